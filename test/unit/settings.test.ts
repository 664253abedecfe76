/**
 * package.json's contributed settings agree with the table of settings (server/src/settings.ts):
 * the same settings, each with the table's type, default, bounds, choices and pattern, and a
 * description that says what a change to it takes.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { SECTION } from '../../client/src/settings';
import { EDITOR_SETTINGS, SETTINGS, type Applies, type SettingRow } from '../../server/src/settings';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const contributed: Record<string, Record<string, unknown>> = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).contributes.configuration
  .properties;
/** Read by vscode-languageclient itself, whose values these are. */
const LIBRARY_SETTINGS = [`${SECTION}.trace.server`];

/** What package.json says of a setting, as JSON Schema: the table's row in those words. */
function schemaOf(row: SettingRow): Record<string, unknown> {
  const schema: Record<string, unknown> = { type: 'nullable' in row ? [row.type, 'null'] : row.type };
  schema.default = 'editorDefault' in row && row.editorDefault !== undefined ? row.editorDefault : row.default;
  if ('min' in row) Object.assign(schema, { minimum: row.min, maximum: row.max });
  if ('choices' in row) schema.enum = row.choices;
  if ('pattern' in row) schema.pattern = row.pattern;
  return schema;
}

/** How each kind of change is told in a description. */
const TOLD: Record<Applies, RegExp> = {
  live: /without a restart/,
  restart: /A change restarts the daemon/,
  command: /from the daemon's next start/,
};

test('package.json contributes the editor settings of the table, and only those', () => {
  assert.deepEqual(
    Object.keys(contributed)
      .filter((name) => !LIBRARY_SETTINGS.includes(name))
      .sort(),
    EDITOR_SETTINGS.map((key) => `${SECTION}.${key}`).sort(),
  );
});

test('each with the type, default, bounds, choices and pattern of its row', () => {
  for (const key of EDITOR_SETTINGS) {
    const row: SettingRow = SETTINGS[key];
    const expected = schemaOf(row);
    const declared = contributed[`${SECTION}.${key}`];
    const keys = ['type', 'default', 'minimum', 'maximum', 'enum', 'pattern'].filter((k) => k in declared || k in expected);
    assert.deepEqual(Object.fromEntries(keys.map((k) => [k, declared[k]])), Object.fromEntries(keys.map((k) => [k, expected[k]])), key);
  }
});

test('each description says what a change to it takes', () => {
  for (const key of EDITOR_SETTINGS) {
    const description = contributed[`${SECTION}.${key}`].markdownDescription as string;
    assert.match(description, TOLD[SETTINGS[key].editor], key);
  }
});

/** Text for the terminal, in process: what is escaped and how, and that tables measure the escaped form. */
import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { fields, indent, lines, shellWord, table, text } from '../../server/src/cli/format';
import { escapeControls, escapeForLog, terminalSafeJson } from '../../server/src/core/text';

/** What must never reach a terminal raw. */
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/u;

/** The inverse of escapeControls, to show that nothing is lost or ambiguous. */
function unescape(s: string): string {
  return s.replace(/\\(?:x([0-9a-f]{2})|u([0-9a-f]{4})|(.))/gs, (_, x: string | undefined, u: string | undefined, c: string | undefined) => {
    if (x !== undefined) return String.fromCharCode(parseInt(x, 16));
    if (u !== undefined) return String.fromCharCode(parseInt(u, 16));
    return { n: '\n', r: '\r', t: '\t', '\\': '\\' }[c as string] ?? assert.fail(`unknown escape \\${c}`);
  });
}

describe('escapeControls', () => {
  test('C0, DEL, C1 and bidi controls shown as escapes; other text as it is', () => {
    assert.equal(escapeControls('\x1b]0;PWNED\x07\x1b[2J'), '\\x1b]0;PWNED\\x07\\x1b[2J');
    assert.equal(escapeControls('a\nb\r\tc\x00\x7f'), 'a\\nb\\r\\tc\\x00\\x7f');
    assert.equal(escapeControls('\u0080\u009b2J\u009d0;x\u009c\u009f'), '\\x80\\x9b2J\\x9d0;x\\x9c\\x9f');
    assert.equal(escapeControls('http://a/\u202egpj.exe'), 'http://a/\\u202egpj.exe');
    assert.equal(escapeControls('\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069'), '\\u202a\\u202b\\u202c\\u202d\\u2066\\u2067\\u2068\\u2069');
    // A literal backslash is doubled, so a title that spells "\x1b" does not pass for an escaped ESC.
    assert.equal(escapeControls('\\x1b'), '\\\\x1b');
    assert.equal(escapeControls('\u200e\u200f\u061c\u2028\u2029'), '\\u200e\\u200f\\u061c\\u2028\\u2029', 'bidi marks and line separators');
    const plain = 'Ünïcödé — 日本語 · 🙂 ‹quotes› \u00a0 \u00ff \u200d ~';
    assert.equal(escapeControls(plain), plain);
  });

  test('for any string: nothing unsafe left, and the original can be read back', () => {
    const anyChar = fc.oneof(
      fc.integer({ min: 0, max: 0xa0 }).map((c) => String.fromCharCode(c)),
      fc.constantFrom('\\', 'x', 'u', '\u202a', '\u202e', '\u2066', '\u2069', '\u2028', '\u200f', '日', '🙂'),
    );
    fc.assert(
      fc.property(
        fc.array(anyChar, { maxLength: 40 }).map((a) => a.join('')),
        (s) => {
          const shown = escapeControls(s);
          assert.doesNotMatch(shown, UNSAFE);
          assert.equal(unescape(shown), s);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('Text', () => {
  test('text escapes its values, not its own literals, and takes a Text as it is', () => {
    const title = '\x1b[2J\nfake line';
    assert.equal(String(text`title: ${title}\n${42}`), 'title: \\x1b[2J\\nfake line\n42');
    const inner = text`a\nb`;
    assert.equal(String(text`[${inner}]`), '[a\nb]');
    assert.equal(String(lines([text`x ${'\x07'}`, inner])), 'x \\x07\na\nb');
    assert.equal(String(indent(inner)), '  a\n  b');
  });

  test('fields: values escaped, keys aligned, empty values left out', () => {
    assert.equal(
      String(
        fields([
          ['id', '7'],
          ['title', '\x1b]0;x\x07'],
          ['final url', ''],
          ['host', 'h'],
        ]),
      ),
      'id     7\ntitle  \\x1b]0;x\\x07\nhost   h',
    );
  });

  test('table: cells escaped, and columns measured and cut in their escaped form', () => {
    const t = String(
      table(
        [{ title: 'URL', flexible: true }, { title: 'NOTE' }],
        [
          ['http://a/\u202e', 'x'],
          ['http://b/', '\x1b[31m\n'],
        ],
      ),
    );
    assert.deepEqual(t.split('\n'), ['URL              NOTE', 'http://a/\\u202e  x', 'http://b/        \\x1b[31m\\n']);
    const cut = String(table([{ title: 'ID' }, { title: 'TITLE', flexible: true }], [['1', '\x9b'.repeat(30)]], 24));
    // 30 escapes of 4 columns each, cut to the 20 columns a flexible column keeps.
    assert.equal(cut.split('\n')[1], `1   ${'\\x9b'.repeat(4)}\\x9…`);
  });
});

describe('logs and JSON', () => {
  test('a log line keeps its tabs and backslashes, and escapes the rest, line breaks too', () => {
    assert.equal(
      escapeForLog('page C:\\x failed:\n\tat \x1b]0;t\x07 \u202egnp.exe\r\u200f'),
      'page C:\\x failed:\\n\tat \\x1b]0;t\\x07 \\u202egnp.exe\\r\\u200f',
    );
  });

  test('JSON for a terminal reads back the same values, with no C1 or bidi character raw', () => {
    const value = { title: '\x9b31m\u202e\x7f', plain: 'é✓' };
    const json = terminalSafeJson(JSON.stringify(value));
    assert.equal(json, '{"title":"\\u009b31m\\u202e\\u007f","plain":"é✓"}');
    assert.deepEqual(JSON.parse(json), value);
  });
});

describe('shellWord', () => {
  test('bash reads each word back as the value, and the words show nothing a terminal acts on', () => {
    const values = [
      '404',
      'HTTP://127',
      'two words',
      "it's",
      'C:\\tmp',
      'a\\nb',
      'tab\there',
      'line\nbreak',
      'esc\x1b[31m',
      'rtl\u202eevil',
      "both ' and \\",
      'é ü',
      '$HOME `x` "q"',
    ];
    const words = values.map((v) => shellWord(v).toString());
    for (const w of words) assert.doesNotMatch(w, UNSAFE, w);
    assert.deepEqual(words.slice(0, 5), ['404', 'HTTP://127', "'two words'", "'it'\\''s'", "$'C:\\\\tmp'"]);
    const r = spawnSync('bash', ['-c', `printf '%s\\0' ${words.join(' ')}`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.split('\0').slice(0, -1), values);
  });
});

import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseSeedFile, startParams, whyNotStartable } from '../../server/src/daemon/seedfile';

describe('seed files', () => {
  test('options at the top, comments, then one URL per line, normalized', () => {
    const f = parseSeedFile([
      '# Documentation crawl',
      'name: docs',
      'max-depth: 2',
      'scope: domain',
      'include: https://example.com/docs/*',
      'include: /\\/api\\//',
      'follow-nofollow: yes',
      '',
      'https://Example.com/docs/  # the start',
      '  https://example.com/api/#frag',
      '# a comment between URLs',
    ].join('\n'));
    assert.deepEqual(f.problems, []);
    assert.deepEqual(startParams(f), {
      name: 'docs', maxDepth: 2, scope: 'domain', include: ['https://example.com/docs/*', '/\\/api\\//'], followNofollow: true,
      seeds: ['https://example.com/docs/', 'https://example.com/api/'],
    });
    assert.deepEqual(f.urls.map((u) => [u.line, u.start, u.end]), [[8, 0, 25], [9, 2, 31]]);
  });

  test('each problem on its line, with a message that says what is wrong', () => {
    const f = parseSeedFile([
      'max-depth: two',
      'scope: galaxy',
      'colour: blue',
      'max-pages: 0',
      'https://ok.example/',
      'ftp://files.example/',
      'not a url',
      'https://ok.example/#again',
      'name: too late',
    ].join('\n'));
    const byLine = f.problems.map((p) => [p.line, p.severity, p.message]);
    assert.deepEqual(byLine.map(([l]) => l), [0, 1, 2, 3, 5, 6, 6, 7, 8]);
    assert.match(String(byLine[0][2]), /^max-depth: must be a whole number, or none for no limit \(got "two"\)/);
    assert.match(String(byLine[1][2]), /^scope: /);
    assert.match(String(byLine[2][2]), /unknown option "colour"; known options: name, max-depth/);
    assert.match(String(byLine[3][2]), /^max-pages: /);
    assert.match(String(byLine[4][2]), /ftp:\/\/files\.example\/: scheme ftp: is not http\(s\)/);
    assert.match(String(byLine[5][2]), /not: not a URL/);
    assert.match(String(byLine[6][2]), /one URL per line/);
    assert.deepEqual(byLine[7].slice(1), ['warning', 'the same page as line 5']);
    assert.match(String(byLine[8][2]), /options go at the top/);
    assert.equal(startParams(f), null, 'bad options: the file cannot start a crawl as written');
    assert.match(whyNotStartable(f), /^line 1: max-depth: must be a whole number/);
  });

  test('max-depth: none is no limit; out of range is a problem on its line', () => {
    assert.deepEqual(startParams(parseSeedFile('max-depth: none\nhttps://a.example/\n')), { maxDepth: null, seeds: ['https://a.example/'] });
    assert.deepEqual(startParams(parseSeedFile('max-depth: None\nhttps://a.example/\n'))?.maxDepth, null);
    assert.equal('maxDepth' in startParams(parseSeedFile('https://a.example/\n'))!, false, 'no line: the daemon\'s default');
    const far = parseSeedFile('max-depth: 1001\nhttps://a.example/\n');
    assert.deepEqual(far.problems.map((p) => p.line), [0]);
    assert.match(far.problems[0].message, /^max-depth: .*1000/);
  });

  test('invalid URL lines do not stop the valid ones from starting', () => {
    const f = parseSeedFile('https://a.example/\nmailto:someone@example.com\n');
    assert.equal(f.problems.length, 1);
    assert.deepEqual(startParams(f)?.seeds, ['https://a.example/']);
  });

  test('a file with no valid URL cannot start a crawl, and says so', () => {
    const f = parseSeedFile('# nothing yet\nname: empty\n');
    assert.equal(startParams(f), null);
    assert.equal(whyNotStartable(f), 'the seed file has no valid URL');
  });

  test('CRLF line endings and a URL longer than 8 KiB', () => {
    const long = `https://a.example/${'x'.repeat(9000)}`;
    const f = parseSeedFile(`max-depth: 1\r\n${long}\r\nhttps://b.example/\r\n`);
    assert.deepEqual(f.problems.map((p) => [p.line, p.message.endsWith('longer than 8 KiB')]), [[1, true]]);
    assert.deepEqual(startParams(f), { maxDepth: 1, seeds: ['https://b.example/'] });
  });

  test('a problem quotes at most the start of a huge line', () => {
    const huge = 'x'.repeat(20 * 1024 * 1024);
    const f = parseSeedFile(`max-depth: ${huge}\n${huge.slice(0, 1000)}: 1\nhttps://a.example/${huge}\n${huge}\n`);
    assert.equal(f.problems.length, 4);
    for (const p of f.problems) assert.ok(p.message.length < 500, `${p.message.length} characters: ${p.message.slice(0, 80)}…`);
    assert.match(f.problems[3].message, /^x{199}…: /);
  });

  test('addresses: public, private or any', () => {
    assert.deepEqual(parseSeedFile('addresses: public\nhttps://a.example/\n').options, { addresses: 'public' });
    const bad = parseSeedFile('addresses: intranet\nhttps://a.example/\n');
    assert.equal(bad.badOptions, true);
    assert.match(bad.problems[0].message, /^addresses: .*"public"/);
  });
});

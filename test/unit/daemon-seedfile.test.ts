import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { parseSeedFile, startParams, whyNotStartable } from '../../server/src/daemon/seeds/file';
import { SEED_OPTIONS } from '../../server/src/daemon/seeds/options';

describe('seed files', () => {
  test('options at the top, comments, then one URL per line, normalized', () => {
    const f = parseSeedFile(
      [
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
      ].join('\n'),
    );
    assert.deepEqual(f.problems, []);
    assert.deepEqual(startParams(f), {
      name: 'docs',
      maxDepth: 2,
      scope: 'domain',
      include: ['https://example.com/docs/*', '/\\/api\\//'],
      followNofollow: true,
      seeds: ['https://example.com/docs/', 'https://example.com/api/'],
    });
    assert.deepEqual(
      f.urls.map((u) => [u.line, u.start, u.end]),
      [
        [8, 0, 25],
        [9, 2, 31],
      ],
    );
  });

  test('each problem on its line, with a message that says what is wrong', () => {
    const f = parseSeedFile(
      [
        'max-depth: two',
        'scope: galaxy',
        'colour: blue',
        'max-pages: 0',
        'https://ok.example/',
        'ftp://files.example/',
        'not a url',
        'https://ok.example/#again',
        'name: too late',
      ].join('\n'),
    );
    const byLine = f.problems.map((p) => [p.line, p.severity, p.message]);
    assert.deepEqual(
      byLine.map(([l]) => l),
      [0, 1, 2, 3, 5, 6, 7, 8],
    );
    assert.match(String(byLine[0][2]), /^max-depth: must be a whole number, or none for no limit \(got "two"\)/);
    assert.equal(byLine[1][2], 'scope: must be host, domain or any (got "galaxy")');
    assert.match(String(byLine[2][2]), /unknown option "colour"; known options: name, max-depth/);
    assert.match(
      parseSeedFile('folow-nofolow: true\nhttp://a.example/\n').problems[0].message,
      /^unknown option "folow-nofolow" \(did you mean "follow-nofollow"\?\); known options: /,
    );
    assert.match(String(byLine[3][2]), /^max-pages: /);
    assert.match(String(byLine[4][2]), /ftp:\/\/files\.example\/: scheme ftp: is not http\(s\)/);
    assert.equal(byLine[5][2], 'not a URL: expected http:// or https://', 'the line is text, not a URL whose scheme is "not"');
    assert.deepEqual([f.problems[5].start, f.problems[5].end], [0, 9], 'the whole line is marked');
    assert.deepEqual(byLine[6].slice(1), ['warning', 'the same page as line 5']);
    assert.match(String(byLine[7][2]), /options go at the top/);
    assert.deepEqual(
      f.problems.map((p) => p.fix),
      ['line', 'line', 'line', 'line', 'line', 'line', 'duplicate', 'line'],
    );
    assert.equal(startParams(f), null, 'bad options: the file cannot start a crawl as written');
    assert.match(whyNotStartable(f), /^line 1: max-depth: must be a whole number/);
  });

  test('max-depth: none is no limit; out of range is a problem on its line', () => {
    assert.deepEqual(startParams(parseSeedFile('max-depth: none\nhttps://a.example/\n')), { maxDepth: null, seeds: ['https://a.example/'] });
    assert.deepEqual(startParams(parseSeedFile('max-depth: None\nhttps://a.example/\n'))?.maxDepth, null);
    assert.equal('maxDepth' in startParams(parseSeedFile('https://a.example/\n'))!, false, "no line: the daemon's default");
    const far = parseSeedFile('max-depth: 1001\nhttps://a.example/\n');
    assert.deepEqual(
      far.problems.map((p) => p.line),
      [0],
    );
    assert.match(far.problems[0].message, /^max-depth: .*1000/);
  });

  test('a word with no scheme is not a URL: quoted alone, the whole line when more follows', () => {
    const f = parseSeedFile('example.com/docs\nexample.com/a example.com/b\nhttps://ok.example/ trailing words\n');
    assert.deepEqual(
      f.problems.map((p) => [p.line, p.start, p.end, p.message, p.fix]),
      [
        [0, 0, 16, 'example.com/docs: not a URL: expected http:// or https://', 'line'],
        [1, 0, 27, 'not a URL: expected http:// or https://', 'line'],
        [2, 20, 34, 'one URL per line: this is not part of the URL', 'text'],
      ],
    );
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
    assert.deepEqual(
      f.problems.map((p) => [p.line, p.message.endsWith('longer than 8 KiB')]),
      [[1, true]],
    );
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
    assert.equal(bad.problems[0].message, 'addresses: must be public, private or any (got "intranet")');
  });

  test('a bad include or exclude pattern is reported on its own line, not on the last of its option', () => {
    const f = parseSeedFile(
      [
        'include: https://a.example/docs/*',
        `include: https://a.example/${'x'.repeat(1000)}`,
        'include: https://a.example/api/*',
        'exclude: *.pdf',
        'https://a.example/',
      ].join('\n'),
    );
    assert.deepEqual(
      f.problems.map((p) => [p.line, p.fix]),
      [[1, 'line']],
    );
    assert.match(f.problems[0].message, /^include: /);
    const many = parseSeedFile([...Array.from({ length: 101 }, (_, i) => `exclude: /p${i}/`), 'https://a.example/'].join('\n'));
    assert.deepEqual(
      many.problems.map((p) => [p.line, p.fix]),
      [[0, null]],
      'too many lines: no one line to take out',
    );
    assert.match(many.problems[0].message, /^exclude: /);
  });

  test("each default shown, written on its option's line, is read as that value", () => {
    for (const name of ['max-depth', 'max-pages', 'scope', 'follow-nofollow', 'store-bodies']) {
      const line = `${name}: ${SEED_OPTIONS.get(name)!.default}`;
      assert.deepEqual(parseSeedFile(`${line}\nhttps://a.example/\n`).problems, [], line);
    }
  });

  test('extract.<field> lines: a field each, its selector checked on its line, its name kept as written', () => {
    const f = parseSeedFile(
      [
        'name: shop',
        'extract.price: span.price @data-value',
        'extract.Tags[]: a.tag',
        'extract.bad: span[',
        'extract.price: h2',
        'extract.Tags: b',
        'extract.my price: p',
        'extract: p',
        'https://shop.example/',
      ].join('\n'),
    );
    assert.deepEqual(f.options.extract, { price: 'span.price @data-value', 'Tags[]': 'a.tag' });
    assert.deepEqual(
      f.problems.map((p) => [p.line, p.option, p.fix]),
      [3, 4, 5, 6, 7].map((line) => [line, true, 'line']),
    );
    assert.deepEqual(
      f.problems.map((p) => p.message.replace(/: .*/s, '')),
      ['extract.bad', 'extract.price', 'extract.Tags', 'extract.my price', 'unknown option "extract"; known options'],
    );
    assert.match(f.problems[0].message, /^extract\.bad: not a CSS selector: /);
    assert.match(f.problems[1].message, /given twice \(also on line 2\)/);
    assert.match(f.problems[2].message, /the same field as extract\.Tags\[\] \(line 3\)/);
    assert.equal(startParams(f), null, 'a bad option line: not started as the file says');
    const good = parseSeedFile(
      'extract.title: h1\nextract.links[]: a @href\nextract.main: #main\nextract.x: div #x > p\nname: shop # a comment\nhttps://shop.example/\n',
    );
    assert.deepEqual(
      startParams(good),
      {
        seeds: ['https://shop.example/'],
        name: 'shop',
        extract: { title: 'h1', 'links[]': 'a @href', main: '#main', x: 'div #x > p' },
      },
      'a # on an extract line is part of the selector',
    );
    const many = parseSeedFile([...Array.from({ length: 51 }, (_, i) => `extract.f${i}: p`), 'https://a.example/'].join('\n'));
    assert.deepEqual(
      many.problems.map((p) => [p.line, p.fix, p.message]),
      [[0, null, 'extract: at most 50 fields']],
    );
  });

  test('a line read before reads the same wherever it stands again: a file parsed after others is parsed as on its own', () => {
    const before = ['https://a.example/x', 'not a url here', 'https://b.example/ and more', 'ftp://c.example/', 'name: x'].join('\n');
    const file = [
      'name: n',
      'https://b.example/ and more',
      'https://a.example/x',
      'https://a.example/x',
      'not a url here',
      'name: x',
      'https://a.example/x # a comment',
      '  ftp://c.example/',
      'ftp://c.example/',
    ].join('\n');
    parseSeedFile(before);
    const here = parseSeedFile(file);
    const parser = path.join(__dirname, '../../server/src/daemon/seeds/file.js');
    const alone: unknown = JSON.parse(
      execFileSync(process.execPath, ['-e', `console.log(JSON.stringify(require(${JSON.stringify(parser)}).parseSeedFile(${JSON.stringify(file)})))`], {
        encoding: 'utf8',
      }),
    );
    assert.deepEqual(JSON.parse(JSON.stringify(here)), alone);
    // Its lines where they stand: a duplicate of line 3, an option after the URLs, the same URL indented.
    assert.deepEqual(
      here.problems.map((p) => [p.line, p.message]),
      [
        [1, 'one URL per line: this is not part of the URL'],
        [3, 'the same page as line 3'],
        [4, 'not a URL: expected http:// or https://'],
        [5, 'options go at the top, before the first URL'],
        [6, 'the same page as line 3'],
        [7, 'ftp://c.example/: scheme ftp: is not http(s)'],
        [8, 'ftp://c.example/: scheme ftp: is not http(s)'],
      ],
    );
    assert.deepEqual(
      here.urls.filter((u) => u.line >= 7).map((u) => u.start),
      [2, 0],
    );
  });

  test('the parser loads no crawl machinery: crawlctl requires it at every start', () => {
    const parser = path.join(__dirname, '../../server/src/daemon/seeds/file.js');
    const loaded: string[] = JSON.parse(
      execFileSync(process.execPath, ['-e', `require(${JSON.stringify(parser)}); console.log(JSON.stringify(Object.keys(require.cache)))`], {
        encoding: 'utf8',
      }),
    );
    assert.deepEqual(
      loaded.filter((f) => /[\\/](crawls|fetcher)\.js$|[\\/]node_modules[\\/](undici|htmlparser2)[\\/]/.test(f)),
      [],
    );
  });
});

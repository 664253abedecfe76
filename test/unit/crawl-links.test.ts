import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DROP, KnownUrls, knownUrls, planLinks, type Frontier } from '../../server/src/crawl/frontier';
import { extractLinks, LinkExtractor, sniffEncoding } from '../../server/src/crawl/links';
import { compileScope } from '../../server/src/crawl/scope';

const PAGE = 'https://example.com/dir/page.html';

function urls(html: string, page = PAGE): string[] {
  return extractLinks(html, page).links.map((l) => l.url);
}

describe('link extraction', () => {
  it('takes <a href> and <area href>, resolved and normalized', () => {
    const r = extractLinks(
      `<a href="other.html#frag">x</a><a href="/ROOT/%7euser">y</a><map><area href="../Area" alt=""></map>
       <a href="HTTPS://Other.Example:443/x">z</a><a>no href</a><link href="/not-a-link"><img src="/img.png">`,
      PAGE,
    );
    assert.deepEqual(r.links, [
      { url: 'https://example.com/dir/other.html', host: 'example.com', nofollow: false },
      { url: 'https://example.com/ROOT/~user', host: 'example.com', nofollow: false },
      { url: 'https://example.com/Area', host: 'example.com', nofollow: false },
      { url: 'https://other.example/x', host: 'other.example', nofollow: false },
    ]);
    assert.equal(r.dropped, 0);
    assert.equal(r.baseUrl, PAGE);
  });

  it('resolves against the first <base href>, including links written before it', () => {
    const r = extractLinks(
      `<a href="early">e</a><head><base target="_blank"><base href="/sub/"><base href="https://ignored.example/"></head>
       <a href="late">l</a><a href="https://abs.example/">a</a>`,
      PAGE,
    );
    assert.equal(r.baseUrl, 'https://example.com/sub/');
    assert.deepEqual(
      r.links.map((l) => l.url),
      ['https://example.com/sub/early', 'https://example.com/sub/late', 'https://abs.example/'],
    );
  });

  it('ignores a javascript: or unparsable base, as browsers do', () => {
    assert.deepEqual(urls('<base href="javascript:alert(1)"><a href="x">x</a>'), ['https://example.com/dir/x']);
    assert.deepEqual(urls('<base href="http://[bad"><a href="x">x</a>'), ['https://example.com/dir/x']);
  });

  it('drops links relative to a non-http(s) base', () => {
    const r = extractLinks('<base href="ftp://files.example/"><a href="x">x</a><a href="https://ok.example/">ok</a>', PAGE);
    assert.deepEqual(r.links, [{ url: 'https://ok.example/', host: 'ok.example', nofollow: false }]);
    assert.equal(r.dropped, 1);
  });

  it('marks rel=nofollow per link; a link is followed if any occurrence is', () => {
    const r = extractLinks(
      `<a href="/a" rel="NoFollow noopener">a</a><a href="/b" rel="nofollowing">b</a>
       <a href="/c" rel="nofollow">c</a><a href="/c">c again</a><a href="/d" rel=" ugc  nofollow ">d</a><a href="/d" rel="nofollow">d</a>`,
      PAGE,
    );
    assert.deepEqual(r.links, [
      { url: 'https://example.com/a', host: 'example.com', nofollow: true },
      { url: 'https://example.com/b', host: 'example.com', nofollow: false },
      { url: 'https://example.com/c', host: 'example.com', nofollow: false },
      { url: 'https://example.com/d', host: 'example.com', nofollow: true },
    ]);
  });

  it('reads meta robots', () => {
    const none = extractLinks('<meta name="robots" content="index,follow">', PAGE);
    assert.equal(none.metaNofollow, false);
    assert.equal(none.metaNoindex, false);

    const both = extractLinks('<META NAME="Robots" CONTENT="NOINDEX, NoFollow">', PAGE);
    assert.equal(both.metaNofollow, true);
    assert.equal(both.metaNoindex, true);

    const all = extractLinks('<meta name=robots content=none>', PAGE);
    assert.deepEqual([all.metaNofollow, all.metaNoindex], [true, true]);

    const other = extractLinks('<meta name="googlebot" content="nofollow"><meta name="description" content="noindex">', PAGE);
    assert.deepEqual([other.metaNofollow, other.metaNoindex], [false, false]);
  });

  it('honours a meta tag named after our bot token when given', () => {
    const html = '<meta name="CrawlOrchestrator" content="noindex">';
    assert.equal(extractLinks(html, PAGE).metaNoindex, false);
    assert.equal(extractLinks(html, PAGE, { botToken: 'crawlorchestrator' }).metaNoindex, true);
  });

  it('extracts the title: entities decoded, whitespace collapsed, tags inside kept as text', () => {
    const r = extractLinks('<html><head><title>\n  Fish &amp; Chips\t <b>now</b>  </title><title>second</title>', PAGE);
    assert.equal(r.title, 'Fish & Chips <b>now</b>');
  });

  it('ignores <title> inside <svg> and returns null without a title', () => {
    assert.equal(extractLinks('<body><svg><title>icon</title></svg><p>x</p></body>', PAGE).title, null);
    assert.equal(extractLinks('<svg><title>icon</title></svg><title>Real</title>', PAGE).title, 'Real');
    assert.equal(extractLinks('<title>   </title>', PAGE).title, null);
  });

  it('caps the title length', () => {
    const r = extractLinks(`<title>${'word '.repeat(1000)}</title>`, PAGE, { maxTitleChars: 12 });
    assert.equal(r.title, 'word word wo');
    assert.equal(extractLinks(`<title>${'x'.repeat(5000)}`, PAGE).title?.length, 512);
  });

  it('counts non-crawlable hrefs as dropped', () => {
    const r = extractLinks(
      `<a href="javascript:void(0)">j</a><a href="mailto:a@example.com">m</a><a href="data:text/html,hi">d</a>
       <a href="tel:+123">t</a><a href="http://">bad</a><a href="ftp://f.example/">f</a><a href="https://example.com/${'a'.repeat(9000)}">long</a><a href="ok">ok</a>`,
      PAGE,
    );
    assert.deepEqual(r.links, [{ url: 'https://example.com/dir/ok', host: 'example.com', nofollow: false }]);
    assert.equal(r.dropped, 7);
  });

  it('copes with malformed HTML', () => {
    const r = extractLinks(
      `<<a href=/unquoted>x<a href='/single' rel=nofollow>y</a><p <a href="/in-garbage">z
       <div><a href="/unclosed-quote>q</a></div><a href="/after">w</a>
       <a href="/dup" href="/second">dup attr</a><script>document.write('<a href="/in-script">')</script><a href="/last"`,
      PAGE,
    );
    const got = r.links.map((l) => l.url);
    // Like a browser, the unclosed quote swallows markup up to the next quote, making one odd link.
    assert.equal(got.length, 4);
    assert.ok(got.includes('https://example.com/unquoted'));
    assert.ok(got.includes('https://example.com/single'));
    assert.ok(got.includes('https://example.com/dup'));
    assert.ok(!got.includes('https://example.com/second'), 'the first of duplicate attributes wins');
    assert.ok(!got.includes('https://example.com/in-script'), 'script content is not markup');
    assert.equal(r.links.find((l) => l.url === 'https://example.com/single')?.nofollow, true);
  });

  it('gives the same result when fed one byte at a time, splitting tags and UTF-8 sequences', () => {
    const html =
      '<html><head><title>Café ☕ 😀</title><base href="/b/"><meta name="robots" content="noindex"></head>' +
      '<body><a href="x?q=ü" rel="nofollow">x</a><AREA HREF="y">' +
      '<a href="z&amp;w">z</a></body></html>';
    const whole = extractLinks(html, PAGE);
    const bytes = Buffer.from(html, 'utf8');
    const extractor = new LinkExtractor(PAGE);
    for (let i = 0; i < bytes.length; i++) extractor.write(bytes.subarray(i, i + 1));
    const chunked = extractor.end();
    assert.deepEqual(chunked, whole);
    assert.equal(chunked.title, 'Café ☕ 😀');
    assert.deepEqual(chunked.links, [
      { url: 'https://example.com/b/x?q=%C3%BC', host: 'example.com', nofollow: true },
      { url: 'https://example.com/b/y', host: 'example.com', nofollow: false },
      { url: 'https://example.com/b/z&w', host: 'example.com', nofollow: false },
    ]);
    assert.equal(chunked.metaNoindex, true);
  });

  it('accepts string chunks that split tags', () => {
    const extractor = new LinkExtractor(PAGE);
    for (const part of ['<a hr', 'ef="/spl', 'it" r', 'el="nof', 'ollow">t</', 'a><tit', 'le>T</ti', 'tle>']) extractor.write(part);
    const r = extractor.end();
    assert.deepEqual(r.links, [{ url: 'https://example.com/split', host: 'example.com', nofollow: true }]);
    assert.equal(r.title, 'T');
    assert.throws(() => extractor.write('more'), /after end/);
  });

  it('decodes Buffer chunks in the given encoding', () => {
    const latin1 = Buffer.from('<title>Fran\xe7ais</title><a href="/caf\xe9">c</a>', 'latin1');
    const r = extractLinks(latin1, PAGE, { encoding: 'windows-1252' });
    assert.equal(r.title, 'Français');
    assert.deepEqual(r.links.map((l) => l.url), ['https://example.com/caf%C3%A9']);
    assert.equal(extractLinks(Buffer.from('<title>ok</title>'), PAGE, { encoding: 'no-such-charset' }).title, 'ok');
  });

  it('settles the encoding as a browser would: BOM, then Content-Type, then <meta> in the first 1024 bytes', () => {
    const latin = (s: string) => Buffer.from(s, 'latin1');
    assert.equal(sniffEncoding(latin('<meta charset="windows-1252"><a href="/x">'), null), 'windows-1252');
    assert.equal(sniffEncoding(latin('<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">'), null), 'shift_jis');
    assert.equal(sniffEncoding(latin('<meta charset="windows-1252">'), 'iso-8859-2'), 'iso-8859-2', 'the header wins over <meta>');
    assert.equal(sniffEncoding(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), latin('<meta charset="windows-1252">')]), 'iso-8859-2'), 'utf-8', 'a BOM wins over both');
    assert.equal(sniffEncoding(latin('<meta charset="utf-16">'), null), 'utf-8', 'UTF-16 named in an ASCII-compatible page means UTF-8');
    assert.equal(sniffEncoding(latin(`${' '.repeat(1100)}<meta charset="windows-1252">`), null), undefined, 'past 1024 bytes: not looked at');
    assert.equal(sniffEncoding(latin('<p>no declaration</p>'), null), undefined);
    const page = latin('<html><head><meta charset="windows-1252"></head><body><a href="/caf\xe9">caf\xe9</a></body></html>');
    assert.deepEqual(extractLinks(page, PAGE, { encoding: sniffEncoding(page, null) }).links.map((l) => l.url), ['https://example.com/caf%C3%A9']);
  });

  it('keeps at most maxLinks distinct links and counts the rest', () => {
    let html = '';
    for (let i = 0; i < 10; i++) html += `<a href="/p${i}">${i}</a><a href="/p0">again</a>`;
    const r = extractLinks(html, PAGE, { maxLinks: 4 });
    assert.deepEqual(r.links.map((l) => l.url), ['/p0', '/p1', '/p2', '/p3'].map((p) => 'https://example.com' + p));
    assert.equal(r.truncated, 6);
  });

  it('applies the default cap of 20,000', () => {
    const html = Array.from({ length: 20_005 }, (_, i) => `<a href="/${i}">`).join('');
    const r = extractLinks(html, PAGE);
    assert.equal(r.links.length, 20_000);
    assert.equal(r.truncated, 5);
  });

  it('refuses a page URL it could not resolve against', () => {
    for (const bad of ['mailto:x@example.com', 'ftp://files.example/', 'http://', 'https-ish://example.com/']) {
      assert.throws(() => new LinkExtractor(bad), TypeError, bad);
    }
    assert.deepEqual(extractLinks('<a href="/x">x</a>', 'HTTPS://Example.com/dir/').links.map((l) => l.url), ['https://example.com/x']);
  });
});

describe('planning links', () => {
  const frontier = (): Frontier => ({
    crawlId: 'c_test', paused: false,
    options: { maxDepth: 5, maxPages: 100, scope: 'host', include: [], exclude: [], followNofollow: false, storeBodies: false },
    scope: compileScope({ seeds: [PAGE], scope: 'host' }),
  });
  const html = '<a href="/a">a</a><a href="/b">b</a><a href="/c" rel="nofollow">c</a><a href="https://other.example/">o</a>';

  it('leaves out links to URLs known to be queued, and still counts what it drops', () => {
    const f = frontier();
    const links = extractLinks(html, PAGE).links;
    const first = planLinks(f, 0, links, () => null, 'bot');
    assert.deepEqual(first.jobs.map((j) => [j.url, j.key, j.depth]), [['https://example.com/a', 'example.com', 1], ['https://example.com/b', 'example.com', 1]]);
    knownUrls(f).add('https://example.com/a');
    knownUrls(f).add('https://example.com/c');
    const again = planLinks(f, 0, links, () => null, 'bot');
    assert.deepEqual(again.jobs.map((j) => j.url), ['https://example.com/b']);
    assert.deepEqual(again.dropped, new Map([[DROP.nofollow, 1], [DROP.scope, 1]]));
  });

  it('KnownUrls forgets the oldest past its bound', () => {
    const known = new KnownUrls(2);
    for (const u of ['u1', 'u2', 'u1', 'u3']) known.add(u);
    assert.deepEqual(['u1', 'u2', 'u3'].map((u) => known.has(u)), [false, true, true]);
  });
});

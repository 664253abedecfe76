import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Parser, Tokenizer, type TokenizerCallbacks } from 'htmlparser2';
import { DROP, KnownUrls, knownUrls, planLinks, rememberQueued, type Frontier } from '../../server/src/crawl/frontier';
import { Robots } from '../../server/src/crawl/robots';
import { extractLinks, extractLinksInSlices, LinkExtractor, SkippingTokenizer, sniffEncoding } from '../../server/src/crawl/links';
import { compileScope } from '../../server/src/crawl/scope';
import { answersWithin } from './helpers/deadline';
import { checkSync } from './helpers/fuzz';
import { htmlPiece } from './helpers/html-pieces';

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
      { url: 'https://example.com/dir/other.html', host: 'example.com', nofollow: false, text: 'x' },
      { url: 'https://example.com/ROOT/~user', host: 'example.com', nofollow: false, text: 'y' },
      { url: 'https://example.com/Area', host: 'example.com', nofollow: false, text: '' },
      { url: 'https://other.example/x', host: 'other.example', nofollow: false, text: 'z' },
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
    assert.deepEqual(r.links, [{ url: 'https://ok.example/', host: 'ok.example', nofollow: false, text: 'ok' }]);
    assert.equal(r.dropped, 1);
  });

  it('marks rel=nofollow per link; a link is followed if any occurrence is', () => {
    const r = extractLinks(
      `<a href="/a" rel="NoFollow noopener">a</a><a href="/b" rel="nofollowing">b</a>
       <a href="/c" rel="nofollow">c</a><a href="/c">c again</a><a href="/d" rel=" ugc  nofollow ">d</a><a href="/d" rel="nofollow">d</a>`,
      PAGE,
    );
    assert.deepEqual(r.links, [
      { url: 'https://example.com/a', host: 'example.com', nofollow: true, text: 'a' },
      { url: 'https://example.com/b', host: 'example.com', nofollow: false, text: 'b' },
      { url: 'https://example.com/c', host: 'example.com', nofollow: false, text: 'c' },
      { url: 'https://example.com/d', host: 'example.com', nofollow: true, text: 'd' },
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
    assert.deepEqual(r.links, [{ url: 'https://example.com/dir/ok', host: 'example.com', nofollow: false, text: 'ok' }]);
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
      { url: 'https://example.com/b/x?q=%C3%BC', host: 'example.com', nofollow: true, text: 'x' },
      { url: 'https://example.com/b/y', host: 'example.com', nofollow: false, text: '' },
      { url: 'https://example.com/b/z&w', host: 'example.com', nofollow: false, text: 'z' },
    ]);
    assert.equal(chunked.metaNoindex, true);
  });

  it('accepts string chunks that split tags', () => {
    const extractor = new LinkExtractor(PAGE);
    for (const part of ['<a hr', 'ef="/spl', 'it" r', 'el="nof', 'ollow">t</', 'a><tit', 'le>T</ti', 'tle>']) extractor.write(part);
    const r = extractor.end();
    assert.deepEqual(r.links, [{ url: 'https://example.com/split', host: 'example.com', nofollow: true, text: 't' }]);
    assert.equal(r.title, 'T');
    assert.throws(() => extractor.write('more'), /after end/);
  });

  it('decodes Buffer chunks in the given encoding', () => {
    const latin1 = Buffer.from('<title>Fran\xe7ais</title><a href="/caf\xe9">c</a>', 'latin1');
    const r = extractLinks(latin1, PAGE, { encoding: 'windows-1252' });
    assert.equal(r.title, 'Français');
    assert.deepEqual(
      r.links.map((l) => l.url),
      ['https://example.com/caf%C3%A9'],
    );
    assert.equal(extractLinks(Buffer.from('<title>ok</title>'), PAGE, { encoding: 'no-such-charset' }).title, 'ok');
  });

  it('reads ASCII chunks of a UTF-8 body as the decoder would: a BOM after them is text, one at the start is not', () => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    const feed = (...chunks: Buffer[]) => {
      const extractor = new LinkExtractor(PAGE, { encoding: 'utf-8' });
      for (const c of chunks) extractor.write(c);
      return extractor.end().links.map((l) => l.url);
    };
    // An ASCII chunk, then one that starts with a BOM and ends inside a character (é), then ASCII again.
    const later = feed(Buffer.from('<a href="/x'), Buffer.concat([bom, Buffer.from('y\xc3', 'latin1')]), Buffer.from('\xa9"></a>', 'latin1'));
    assert.deepEqual(later, ['https://example.com/x%EF%BB%BFy%C3%A9']);
    assert.deepEqual(feed(bom, Buffer.from('<a href="/x">x</a>')), ['https://example.com/x'], 'a BOM that starts the body is not text');
    assert.deepEqual(feed(Buffer.from(''), bom, Buffer.from('<a href="/x">x</a>')), ['https://example.com/x'], 'nor after an empty chunk');
  });

  it('decodes character references in the text and attributes it reads as the tokenizer does, in any chunks', () => {
    const pages = [
      '<title>Fish &amp Chips &lt;3 &notit; &#x1F600; &#0; &#x80; &copy=</title>',
      '<a href="/q?a=1&amp;b=2&copy=3&not=4&lang=x" title="A &amp B">&#65;&amp;&ampx &CounterClockwiseContourIntegral; &am</a>',
      '<a href=/u&amp;v?x=&lt rel="&#110;ofollow">t<!-- &amp; -->&am<!-- -->p; &amp</a><a href="/s">x<script>&amp;</script>&quot;</a>',
      '<a href="/t"><img alt="&lt;img&gt;"></a><area href="/ar&#x2F;ea" alt="&eacute;"><meta name="description" content="&quot;d&quot">',
      // Where the tokenizer does not decode: textarea and script (also under a <title/> left open), its title quirk, a page cut in a bogus comment.
      '<a href=/x><textarea>&amp;</textarea></a><title/><script>&amp;</script><style>&lt;</style>',
      '<title>a<&amp; </t&lt;</title><a href=/y>a</1 &amp;',
    ];
    for (const html of pages) {
      // With a tree, the tokenizer decodes references itself: the reference for the rest.
      const { tree, ...expected } = extractLinks(html, PAGE, { document: true });
      assert.ok(tree !== null);
      const bytes = Buffer.from(html);
      for (const size of [1, 3, 7, bytes.length]) {
        const extractor = new LinkExtractor(PAGE);
        for (let at = 0; at < bytes.length; at += size) extractor.write(bytes.subarray(at, at + size));
        const { tree: none, ...got } = extractor.end();
        assert.equal(none, null);
        assert.deepEqual(got, expected, `${html} in chunks of ${size}`);
      }
    }
    const r = extractLinks(pages[1], PAGE);
    assert.equal(r.links[0].url, 'https://example.com/q?a=1&b=2&copy=3&not=4&lang=x', 'no legacy reference before = in an attribute');
    assert.equal(r.links[0].text, 'A&&x ∳ &am');
    assert.equal(extractLinks(pages[0], PAGE).title, 'Fish & Chips <3 ¬it; 😀 \ufffd € ©=');
  });

  it('settles the encoding as a browser would: BOM, then Content-Type, then <meta> in the first 1024 bytes', () => {
    const latin = (s: string) => Buffer.from(s, 'latin1');
    assert.equal(sniffEncoding(latin('<meta charset="windows-1252"><a href="/x">'), null), 'windows-1252');
    assert.equal(sniffEncoding(latin('<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">'), null), 'shift_jis');
    assert.equal(sniffEncoding(latin('<meta charset="windows-1252">'), 'iso-8859-2'), 'iso-8859-2', 'the header wins over <meta>');
    assert.equal(
      sniffEncoding(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), latin('<meta charset="windows-1252">')]), 'iso-8859-2'),
      'utf-8',
      'a BOM wins over both',
    );
    assert.equal(sniffEncoding(latin('<meta charset="utf-16">'), null), 'utf-8', 'UTF-16 named in an ASCII-compatible page means UTF-8');
    assert.equal(sniffEncoding(latin(`${' '.repeat(1100)}<meta charset="windows-1252">`), null), undefined, 'past 1024 bytes: not looked at');
    assert.equal(sniffEncoding(latin('<p>no declaration</p>'), null), undefined);
    const page = latin('<html><head><meta charset="windows-1252"></head><body><a href="/caf\xe9">caf\xe9</a></body></html>');
    assert.deepEqual(
      extractLinks(page, PAGE, { encoding: sniffEncoding(page, null) }).links.map((l) => l.url),
      ['https://example.com/caf%C3%A9'],
    );
  });

  it('keeps at most maxLinks distinct links and counts the rest', () => {
    let html = '';
    for (let i = 0; i < 10; i++) html += `<a href="/p${i}">${i}</a><a href="/p0">again</a>`;
    const r = extractLinks(html, PAGE, { maxLinks: 4 });
    assert.deepEqual(
      r.links.map((l) => l.url),
      ['/p0', '/p1', '/p2', '/p3'].map((p) => 'https://example.com' + p),
    );
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
    assert.deepEqual(
      extractLinks('<a href="/x">x</a>', 'HTTPS://Example.com/dir/').links.map((l) => l.url),
      ['https://example.com/x'],
    );
  });
});

describe('link text and page metadata', () => {
  const texts = (html: string, page = PAGE) => Object.fromEntries(extractLinks(html, page).links.map((l) => [l.url, l.text]));

  it("takes a link's text from the anchor's content, nested elements included, whitespace collapsed", () => {
    assert.deepEqual(
      texts(
        `<a href="/x"><span>Docs</span> home</a>
         <a href="/y">\n   Fish &amp;\t<b><i>Chips</i></b>&nbsp; \n</a>
         <a href="/s"><style>.x { color: red }</style>Shop<script>var cart = 1;</script></a>`,
      ),
      { 'https://example.com/x': 'Docs home', 'https://example.com/y': 'Fish & Chips', 'https://example.com/s': 'Shop' },
    );
  });

  it('falls back to an <img> alt, then aria-label, then title; an <area> has its alt', () => {
    assert.deepEqual(
      texts(
        `<a href="/img" aria-label="label" title="title"><img src="spacer.gif" alt=""><img src="logo.png" alt=" Our \n logo "><img alt="second"></a>
         <a href="/both"><img alt="Logo"> Home </a>
         <a href="/aria" aria-label=" Close  dialog " title="t"><svg><path d=""/></svg></a>
         <a href="/title" title="Next page"> <img src="arrow.png"> </a>
         <a href="/none"></a>
         <map><area href="/area" alt="Region\n one"><area href="/bare"></map>`,
      ),
      {
        'https://example.com/img': 'Our logo',
        'https://example.com/both': 'Home',
        'https://example.com/aria': 'Close dialog',
        'https://example.com/title': 'Next page',
        'https://example.com/none': '',
        'https://example.com/area': 'Region one',
        'https://example.com/bare': '',
      },
    );
  });

  it("keeps the text of a link's first occurrence, even an empty one; nofollow as before", () => {
    const r = extractLinks(
      `<a href="/p" rel="nofollow">First</a><a href="/p#frag">Second</a>
       <a href="/q"></a><a href="/q">later</a><area href="/q" alt="area">`,
      PAGE,
    );
    assert.deepEqual(r.links, [
      { url: 'https://example.com/p', host: 'example.com', nofollow: false, text: 'First' },
      { url: 'https://example.com/q', host: 'example.com', nofollow: false, text: '' },
    ]);
  });

  it("ends an anchor's text where another <a> opens, as a tree builder does", () => {
    assert.deepEqual(texts('<a href="/one">One <b>bold<a href="/two">Two</a> tail</b></a> after <a href="/three">Three<a>no href</a></a>'), {
      'https://example.com/one': 'One bold',
      'https://example.com/two': 'Two',
      'https://example.com/three': 'Three',
    });
    // An end tag around it closes it too.
    assert.deepEqual(texts('<p><a href="/in">In <b>p</p>out</a>'), { 'https://example.com/in': 'In p' });
  });

  it('gives links written before <base> their text, including one with the <base> inside it', () => {
    assert.deepEqual(texts('<a href="early">Early <i>bird</i></a><a href="early#2">dup</a><head><base href="/sub/"></head><a href="late">Late</a>'), {
      'https://example.com/sub/early': 'Early bird',
      'https://example.com/sub/late': 'Late',
    });
    assert.deepEqual(texts('<a href="x">before <base href="/sub/">after</a> outside'), { 'https://example.com/sub/x': 'before after' });
    // No <base> at all: resolved at the end, an anchor left open included.
    assert.deepEqual(texts('<a href="a">A</a><a href="b">B unclosed'), { 'https://example.com/dir/a': 'A', 'https://example.com/dir/b': 'B unclosed' });
    // Links over the cap get no text, and take none from others.
    const capped = extractLinks('<a href="/1">one</a><a href="/2">two</a><base href="/"><a href="/3">three</a><a href="/1">again</a>', PAGE, { maxLinks: 1 });
    assert.deepEqual(capped.links, [{ url: 'https://example.com/1', host: 'example.com', nofollow: false, text: 'one' }]);
    assert.equal(capped.truncated, 2);
  });

  it("caps a link's text at 200 characters without splitting a surrogate pair", () => {
    const text = (inner: string) => extractLinks(`<a href="/t">${inner}</a>`, PAGE).links[0].text;
    assert.equal(text('a'.repeat(199) + '😀tail'), 'a'.repeat(199), 'the emoji would straddle the cap');
    assert.equal(text('a'.repeat(198) + '😀tail'), 'a'.repeat(198) + '😀');
    assert.equal(text('a'.repeat(199) + ' bcd'), 'a'.repeat(199), 'no trailing space after the cut');
    assert.equal(text(`${'word '.repeat(300)}`).length, 199);
    assert.equal(text(`${' \n'.repeat(3000)}<span>Words</span>${'\t'.repeat(3000)}`), 'Words', 'indentation does not push the words out');
    assert.equal(text('&amp;'.repeat(1000)), '&'.repeat(200));
    assert.equal(extractLinks(`<a href="/t" title="${'t'.repeat(300)}"></a>`, PAGE).links[0].text, 't'.repeat(200));
  });

  it('reads the first <meta name="description">', () => {
    const description = (html: string) => extractLinks(html, PAGE).description;
    assert.equal(
      description('<meta name=" Description " content="  A  page\nabout &amp; fish "><meta name="description" content="second">'),
      'A page about & fish',
    );
    assert.equal(description('<meta name="og:description" content="other"><meta content="no name">'), null);
    assert.equal(description('<meta name="description" content="  "><meta name="description" content="second">'), null, 'the first one, empty');
    assert.equal(description('<meta name="description">'), null);
    assert.equal(description(`<meta name="description" content="${'d'.repeat(5000)}">`), 'd'.repeat(1000));
  });

  it('reads the first <link rel="canonical" href>, resolved and normalized', () => {
    const canonical = (html: string) => extractLinks(html, PAGE).canonical;
    assert.equal(canonical('<link rel="Canonical" href="/Canon/%7eX#frag"><link rel="canonical" href="/second">'), 'https://example.com/Canon/~X');
    assert.equal(canonical('<link rel="alternate  CANONICAL" href="HTTPS://Other.Example:443/">'), 'https://other.example/');
    assert.equal(canonical('<link rel="canonical"><link rel="canonical" href="with-href">'), 'https://example.com/dir/with-href');
    assert.equal(canonical('<link rel="canonicalize" href="/x"><link rel="stylesheet" href="/s.css"><a href="/a" rel="canonical">a</a>'), null);
    assert.equal(canonical(''), null);
    assert.equal(canonical('<link rel="canonical" href="c"><base href="/sub/">'), 'https://example.com/sub/c', 'resolved against a later <base>');
    assert.equal(canonical('<link rel="canonical" href="http://[bad">'), null);
    assert.equal(canonical('<link rel="canonical" href="mailto:me@example.com">'), null);
  });

  it('reads the lang of the first <html>', () => {
    const lang = (html: string) => extractLinks(html, PAGE).lang;
    assert.equal(lang('<!doctype html><HTML LANG=" en-GB "><html lang="fr">'), 'en-GB');
    assert.equal(lang('<html><html lang="fr">'), null, 'the first <html> has none');
    assert.equal(lang('<html lang="">'), null);
    assert.equal(lang('<p lang="de">'), null);
    assert.equal(lang(`<html lang="${'x'.repeat(100)}">`), 'x'.repeat(35));
  });

  it('keeps the meta robots content it reads, joined', () => {
    const robots = (html: string, botToken?: string) => extractLinks(html, PAGE, { botToken }).metaRobots;
    assert.equal(
      robots(
        '<meta name="robots" content=" noindex,\n  nofollow "><meta name="googlebot" content="noarchive"><meta name="CrawlBot" content="nosnippet">',
        'crawlbot',
      ),
      'noindex, nofollow, nosnippet',
    );
    assert.equal(robots('<meta name="ROBOTS" content="None">'), 'None', 'as written');
    assert.equal(robots('<meta name="robots" content=""><meta name="robots">'), null);
    assert.equal(robots('<meta name="googlebot" content="noindex">'), null);
    const many = robots('<meta name="robots" content="noarchive">'.repeat(1000));
    assert.equal(many, Array(18).fill('noarchive').join(', '), 'whole tags, as many as fit in 200 characters');
    assert.equal(robots(`<meta name="robots" content="${'x'.repeat(300)}"><meta name="robots" content="noindex">`), 'x'.repeat(200));
  });

  it('has every field when nothing is there', () => {
    const r = extractLinks('', PAGE);
    assert.deepEqual([r.title, r.description, r.canonical, r.lang, r.metaRobots, r.links], [null, null, null, null, null, []]);
  });

  it('reads a 5 MB anchor, and other runaway text, in bounded time and space', async () => {
    const linksJs = require.resolve('../../server/src/crawl/links');
    const got = await answersWithin(
      30_000,
      (d) => {
        const { extractLinks: extract } = require(d.linksJs) as typeof import('../../server/src/crawl/links');
        const big = '<a href="/big">' + 'x'.repeat(5_000_000) + '</a>';
        const spaces = '<a href="/ws">' + ' '.repeat(5_000_000) + 'end</a>';
        const entities = '<a href="/ent">' + '&amp; '.repeat(1_000_000) + '</a>';
        const attrs =
          `<html lang="${'l'.repeat(5_000_000)}"><meta name=description content="${'d '.repeat(2_500_000)}">` +
          `<a href="/attr" aria-label="${' '.repeat(5_000_000)}a"></a>` +
          '<meta name=robots content="noindex">'.repeat(200_000);
        const r = extract(big + spaces + entities + attrs, d.page);
        return {
          texts: r.links.map((l) => [l.text.length, l.text.slice(-3)]),
          lang: r.lang?.length,
          description: r.description?.length,
          robots: r.metaRobots?.length,
        };
      },
      { linksJs, page: PAGE },
    );
    assert.deepEqual(got.texts, [
      [200, 'xxx'],
      [3, 'end'],
      [199, '& &'],
      [1, 'a'],
    ]);
    assert.deepEqual([got.lang, got.description, got.robots], [35, 999, 196], 'whole tags only past the first: 21 more of 9 characters');
    const r = await extractLinksInSlices(Buffer.from('<a href="/big">' + 'é'.repeat(2_500_000) + '</a>'), PAGE);
    assert.equal(r.links[0].text, 'é'.repeat(200));
  });
});

/**
 * What htmlparser2's Parser (a tree builder's view) makes of the same page: the hrefs of <a> and
 * <area> in order with their rel, the first <base href>, meta robots and the first <title>
 * outside <svg>. The extractor drives the tokenizer alone and must agree with it.
 */
function parserView(html: string) {
  const hrefs: [string, string][] = [];
  const metas: string[] = [];
  let base = null as string | null;
  let svg = 0;
  let title: 'before' | 'inside' | 'done' = 'before';
  let titleText = '';
  const parser = new Parser(
    {
      onopentag(name, a) {
        if ((name === 'a' || name === 'area') && a.href !== undefined) hrefs.push([a.href, a.rel ?? '']);
        if (name === 'base' && a.href !== undefined && base === null) base = a.href;
        if (name === 'meta' && (a.name ?? '').trim().toLowerCase() === 'robots') metas.push(a.content ?? '');
        if (name === 'svg') svg++;
        if (name === 'title' && title === 'before' && svg === 0) title = 'inside';
      },
      onclosetag(name) {
        if (name === 'svg' && svg > 0) svg--;
        else if (name === 'title' && title === 'inside') title = 'done';
      },
      ontext(text) {
        if (title === 'inside') titleText += text;
      },
    },
    { decodeEntities: true },
  );
  parser.end(html);
  return { hrefs, metas, base, titleText };
}

describe('link extraction is linear and agrees with a tree builder', () => {
  it("agrees with htmlparser2's Parser on random pages fed in random chunks", () => {
    checkSync(
      fc.property(fc.array(htmlPiece, { maxLength: 40 }), fc.array(fc.nat(), { maxLength: 6 }), (pieces, cuts) => {
        const html = pieces.join('');
        const view = parserView(html);
        const extractor = new LinkExtractor(PAGE);
        let at = 0;
        for (const cut of [...cuts.map((c) => c % (html.length + 1))].sort((a, b) => a - b)) {
          extractor.write(html.slice(at, cut));
          at = cut;
        }
        extractor.write(html.slice(at));
        const r = extractor.end();
        // The same links, resolved by the extractor's own rules from what the Parser saw.
        const expected = new Map<string, boolean>();
        const quoted = (v: string) => `"${v.replace(/&/g, '&amp;').replace(/"/g, '&quot;')}"`;
        const base = view.base === null ? PAGE : extractLinks(`<base href=${quoted(view.base)}>`, PAGE).baseUrl;
        for (const [href, rel] of view.hrefs) {
          const one = extractLinks(`<base href=${quoted(base)}><a href=${quoted(href)} rel=${quoted(rel)}>`, PAGE).links[0];
          if (one === undefined) continue;
          expected.set(one.url, (expected.get(one.url) ?? true) && one.nofollow);
        }
        assert.equal(r.baseUrl, base);
        assert.deepEqual(
          r.links.map((l) => [l.url, l.nofollow]),
          [...expected],
        );
        // Texts and page metadata do not depend on how the page was cut either.
        assert.deepEqual(r, extractLinks(html, PAGE));
        for (const l of r.links) assert.ok(l.text.length <= 200 && l.text === l.text.trim(), l.text);
        // The Parser leaves SVG's foreign content open after `<svg/>`, so self-closing tags after it differ.
        if (!html.includes('/>')) {
          const t = view.titleText.replace(/\s+/g, ' ').trim();
          assert.equal(r.title, t === '' ? null : t.slice(0, 512).trimEnd());
        }
        const metaTokens = view.metas.flatMap((c) => c.toLowerCase().split(/[\s,]+/));
        assert.equal(
          r.metaNofollow,
          metaTokens.some((t) => t === 'nofollow' || t === 'none'),
        );
        assert.equal(
          r.metaNoindex,
          metaTokens.some((t) => t === 'noindex' || t === 'none'),
        );
      }),
      400,
    );
  });

  it("skips ahead as htmlparser2's own tokenizer does: the same events at the same places, however the page is cut, decoding or not", () => {
    const events = (T: typeof Tokenizer, html: string, cuts: number[], decodeEntities: boolean) => {
      const seen: unknown[][] = [];
      const callbacks = new Proxy({} as TokenizerCallbacks, {
        get:
          (_, name) =>
          (...args: unknown[]) =>
            seen.push([name, ...args]),
      });
      const tokenizer = new T({ decodeEntities }, callbacks);
      let at = 0;
      for (const cut of cuts) {
        tokenizer.write(html.slice(at, cut));
        at = cut;
      }
      tokenizer.write(html.slice(at));
      tokenizer.end();
      return seen;
    };
    checkSync(
      fc.property(fc.array(htmlPiece, { maxLength: 40 }), fc.array(fc.nat(), { maxLength: 6 }), fc.boolean(), (pieces, cuts, decode) => {
        const html = pieces.join('');
        const at = [...cuts.map((c) => c % (html.length + 1))].sort((a, b) => a - b);
        assert.deepEqual(events(SkippingTokenizer, html, at, decode), events(Tokenizer, html, at, decode));
      }),
      1_000,
    );
    // Skipping to the end of a chunk that lacks the character, then finding it in the next.
    for (const html of ['<p title="a long value">x</p>', '<!-- a comment -->', '<script>if (a < b) x = "</scr" + "ipt>";</script>', 'é<a href="/é">é</a>']) {
      for (let cut = 0; cut <= html.length; cut++)
        assert.deepEqual(events(SkippingTokenizer, html, [cut], false), events(Tokenizer, html, [cut], false), `${html} cut at ${cut}`);
    }
  });

  it('ends the title where a tree builder would: at its end tag, or at an end tag of an element around it', () => {
    const title = (html: string) => extractLinks(html, PAGE).title;
    assert.equal(title('<head><title/></head><body>all the body text</body>'), null, '`<title/>` is no raw text; </head> ends it');
    assert.equal(title('<p><title/>Hello</p><a href=/x>Click here</a>'), 'Hello');
    assert.equal(title('<body><a href="/"><svg><path d=""></a><title>Real title</title>'), 'Real title', '</a> closes the <svg> inside it');
    assert.equal(title('<svg/><title>After</title>'), 'After', '<svg/> closes itself');
    assert.equal(title('<svg><title>icon</title></svg><title>Page</title>'), 'Page');
    assert.equal(title("<title>Cut</title><p></ rel=nofollow <A HREF='"), 'Cut');
    assert.equal(title("</p><title/></ rel=nofollow <A HREF='"), null, 'text the tokenizer places before the page is none of it');
  });

  // Each of these took htmlparser2's Parser minutes to hours (the issue measured 371 s for the first,
  // served as 2.9 KB of gzip); linear, each is well under a second. Run in a worker, given up on after 30 s.
  const linksJs = require.resolve('../../server/src/crawl/links');
  const hostile: [string, () => string, number][] = [
    ['a million unclosed <b>', () => '<html><body>' + '<b>'.repeat(1_000_000), 0],
    ['750,000 unclosed <a href>', () => '<html><body>' + '<a href="/x">'.repeat(750_000), 1],
    ['a million unmatched end tags after a million opens', () => '<div>'.repeat(1_000_000) + '</span>'.repeat(1_000_000), 0],
    ['a million nested <svg> and <table> cells', () => '<svg>'.repeat(500_000) + '<table><tr><td>'.repeat(300_000), 0],
    ['a million opens closed by one end tag', () => '<div>' + '<b><i>'.repeat(500_000) + '</div><title>t</title>', 0],
  ];
  for (const [name, html, links] of hostile) {
    it(`reads ${name} in linear time`, async () => {
      const found = await answersWithin(
        30_000,
        (d) => {
          const { extractLinks: extract } = require(d.linksJs) as typeof import('../../server/src/crawl/links');
          return extract(d.html, d.page).links.length;
        },
        { linksJs, html: html(), page: PAGE },
      );
      assert.equal(found, links);
    });
  }

  it('reads a large body in slices, letting the event loop in between, with the same result', async () => {
    const html = Buffer.from('<title>big</title>' + Array.from({ length: 60_000 }, (_, i) => `<a href="/p${i}">p</a>`).join(''));
    let turns = 0;
    const timer = setInterval(() => turns++, 0);
    const sliced = await extractLinksInSlices(html, PAGE);
    clearInterval(timer);
    assert.deepEqual(sliced, extractLinks(html, PAGE));
    assert.ok(html.byteLength > 4 * 256 * 1024, 'the body spans several slices');
    assert.ok(turns >= 1, `timers ran ${turns} times while the body was read`);
  });
});

describe('planning links', () => {
  const frontier = (): Frontier => ({
    crawlId: 'c_test',
    paused: false,
    options: { maxDepth: 5, maxPages: 100, scope: 'host', include: [], exclude: [], followNofollow: false, storeBodies: false },
    scope: compileScope({ seeds: [PAGE], scope: 'host' }),
  });
  const html = '<a href="/a">a</a><a href="/b">b</a><a href="/c" rel="nofollow">c</a><a href="https://other.example/">o</a>';

  it('leaves out links to URLs known to be queued, and still counts what it drops', () => {
    const f = frontier();
    const links = extractLinks(html, PAGE).links;
    const first = planLinks(f, 0, links, () => null, 'bot');
    assert.deepEqual(
      first.jobs.map((j) => [j.url, j.key, j.depth]),
      [
        ['https://example.com/a', 'example.com', 1],
        ['https://example.com/b', 'example.com', 1],
      ],
    );
    knownUrls(f).add('https://example.com/a');
    knownUrls(f).add('https://example.com/c');
    const again = planLinks(f, 0, links, () => null, 'bot');
    assert.deepEqual(
      again.jobs.map((j) => j.url),
      ['https://example.com/b'],
    );
    assert.deepEqual(
      again.dropped,
      new Map([
        [DROP.nofollow, 1],
        [DROP.scope, 1],
      ]),
    );
  });

  it("learns the URLs an acknowledgement put in the queue, but not those refused past the cap, nor a sitemap job's", () => {
    const links = extractLinks(html, PAGE).links;
    const f = frontier();
    const [a, b] = planLinks(f, 0, links, () => null, 'bot').jobs;
    const sitemap = { ...a, url: 'https://example.com/x', dedupeKey: 'sitemap https://example.com/x' };
    rememberQueued(f, [a, b, sitemap], { ids: [7, null, 8], enqueued: 2, duplicates: 1, capped: 0 });
    assert.deepEqual(planLinks(f, 0, links, () => null, 'bot').jobs, [], 'one new, one found there: both known');
    assert.equal(knownUrls(f).has('https://example.com/x'), false, 'a sitemap job is not the page of its URL');
    const capped = frontier();
    rememberQueued(capped, [a, b], { ids: [7, null], enqueued: 1, duplicates: 0, capped: 1 });
    assert.deepEqual(
      planLinks(capped, 0, links, () => null, 'bot').jobs.map((j) => j.url),
      ['https://example.com/b'],
      'a null id may be a job refused past the cap: left to the queue',
    );
  });

  it('drops links past a max depth; with none (null) follows them however deep', () => {
    const links = extractLinks(html, PAGE).links;
    const limited = frontier();
    assert.deepEqual(
      planLinks(limited, 4, links, () => null, 'bot').jobs.map((j) => j.depth),
      [5, 5],
      'up to the limit',
    );
    assert.deepEqual(planLinks(limited, 5, links, () => null, 'bot').dropped.get(DROP.depth), 3, 'in scope or not');
    const unlimited = frontier();
    unlimited.options.maxDepth = null;
    const deep = planLinks(unlimited, 468, links, () => null, 'bot');
    assert.deepEqual(
      deep.jobs.map((j) => j.depth),
      [469, 469],
    );
    assert.equal(deep.dropped.get(DROP.depth), undefined);
  });

  it('spends a bounded share of robots.txt work on one page; the rest is judged when fetched', { timeout: 60_000 }, () => {
    // Each verdict costs about two million steps here (120 rules of a star and 4,000 characters
    // against an 8 KiB URL), and every one of these URLs is disallowed by one of the last rules tried.
    const rules = Array.from({ length: 120 }, (_, i) => `Disallow: /*${'a'.repeat(4000)}b${i}`).join('\n');
    const robots = Robots.parse(`User-agent: *\n${rules}\n`);
    const links = Array.from({ length: 500 }, (_, i) => {
      const url = `https://example.com/${'a'.repeat(8000)}b0?${i}`;
      return { url, host: 'example.com', nofollow: false, text: '' };
    });
    const planned = planLinks(frontier(), 0, links, () => robots, 'bot');
    assert.equal(planned.jobs.length, 500, 'every link becomes a job');
    const judged = planned.jobs.filter((j) => j.skipReason !== undefined);
    assert.ok(judged.length >= 1 && judged.length <= 4, `${judged.length} links judged while planning`);
    assert.match(judged[0].skipReason!, /^robots\.txt: Disallow: \/\*a{4000}b0$/);
  });

  it('KnownUrls forgets the oldest past its bound', () => {
    const known = new KnownUrls(2);
    for (const u of ['u1', 'u2', 'u1', 'u3']) known.add(u);
    assert.deepEqual(
      ['u1', 'u2', 'u3'].map((u) => known.has(u)),
      [false, true, true],
    );
  });
});

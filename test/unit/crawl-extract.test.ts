/**
 * Extraction by selector: field specs and their errors, the page's tree (bounded whatever its
 * shape), the values (text, attributes, every match), the step budget that stops a selector gone
 * quadratic, and a crawl of a shop whose prices and tags are known, on both engines, its data in
 * the records and in both export formats.
 */
import * as assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { isTag, type AnyNode } from 'domhandler';
import { QueueError } from '../../server/src/core/errors';
import { MAX_DEPTH, MAX_NODES } from '../../server/src/crawl/dom';
import { ExtractError, extractData, MAX_MATCHES, MAX_VALUE_CHARS, parseField, parseFields } from '../../server/src/crawl/extract';
import { extractLinks } from '../../server/src/crawl/links';
import { exportFields, fileHeader, formatRecords, type Ask } from '../../server/src/exports';
import type { PageRecord } from '../../server/src/protocol';
import { crawlerOn } from './helpers/crawler';
import { ENGINES } from './helpers/engines';
import { startHost, type Route, type TestHost } from './helpers/testsite';

const tree = (html: string) => extractLinks(html, 'http://127.0.0.2/', { document: true }).tree!;
const data = (html: string, fields: Record<string, string>) => extractData(tree(html).document, parseFields(fields));

test('a field is a selector, or a selector and an attribute; every match with []', () => {
  assert.deepEqual((({ key, many, selector, attribute }) => ({ key, many, selector, attribute }))(parseField('price', ' span.price  @Data-Value ')), {
    key: 'price',
    many: false,
    selector: 'span.price',
    attribute: 'data-value',
  });
  assert.equal(parseField('tags[]', 'a.tag').many, true);
  assert.equal(parseField('tags[]', 'a.tag').key, 'tags');
  // A selector holding " @" in a quoted value is taken whole.
  assert.deepEqual([parseField('t', 'a[title="x @y"]').selector, parseField('t', 'a[title="x @y"]').attribute], ['a[title="x @y"]', null]);
});

test('a bad field is refused with its name and what is wrong', () => {
  const refused = (fields: Record<string, string>, message: RegExp) =>
    assert.throws(
      () => parseFields(fields),
      (e: Error) => e instanceof ExtractError && message.test(e.message),
    );
  refused({ price: 'span[' }, /^extract\.price: not a CSS selector: /);
  refused({ price: 'div @' }, /^extract\.price: not a CSS selector/);
  refused({ price: '   ' }, /^extract\.price: needs a selector/);
  refused({ 'my price': 'span' }, /^extract\.my price: a field name is/);
  refused({ __proto__x: 'span' }, /^extract\.__proto__x: a field name is/);
  refused({ tags: 'a', 'tags[]': 'a' }, /^extract\.tags\[\]: the same field as extract\.tags$/);
  refused({ p: 'x'.repeat(1001) }, /at most 1000 characters/);
  refused(Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`f${i}`, 'p'])), /^extract: at most 50 fields/);
});

test('values: collapsed text, attributes, every match in document order; null and [] for none', () => {
  const html = `<div class=product><h1>  Blue
    widget </h1><span class="price" data-value="12.50">$12.50</span>
    <a class=tag href="/t/a">red &amp; blue</a><a class=tag href="/t/b">sale</a><a class=tag>no href</a><br><img src=x.png></div>
    <p>text <b>bold</b> more</p>`;
  assert.deepEqual(
    data(html, {
      name: 'h1',
      price: 'span.price @data-value',
      shown: '.price',
      'tags[]': 'a.tag',
      'hrefs[]': 'a.tag @href',
      img: 'div > img @src',
      next: 'div + p',
      missing: '.nope',
      'none[]': '.nope',
      noAttr: 'h1 @title',
    }),
    {
      data: {
        name: 'Blue widget',
        price: '12.50',
        shown: '$12.50',
        tags: ['red & blue', 'sale', 'no href'],
        hrefs: ['/t/a', '/t/b'],
        img: 'x.png',
        next: 'text bold more',
        missing: null,
        none: [],
        noAttr: null,
      },
      stopped: [],
      failed: [],
    },
  );
});

test('a value and a list are capped', () => {
  const { data: d } = data(`<p>${'x'.repeat(MAX_VALUE_CHARS + 50)}</p>${'<i>i</i>'.repeat(MAX_MATCHES + 5)}`, { p: 'p', 'i[]': 'i' });
  assert.equal((d.p as string).length, MAX_VALUE_CHARS);
  assert.equal((d.i as string[]).length, MAX_MATCHES);
});

test('the tree: void elements hold nothing, nesting past the cap becomes siblings, and it stops growing past its size', () => {
  assert.deepEqual(data('<p>a<br>b<img>c</p><p>d', { 'p[]': 'p', br: 'br:empty' }).data, { p: ['abc', 'd'], br: '' });
  const deep = tree(`${'<div>'.repeat(MAX_DEPTH + 100)}<span>x</span>`);
  // The depth of the deepest element: every element past the cap is a sibling at the cap's depth.
  let deepest = 0;
  const stack: [AnyNode, number][] = deep.document.children.map((n) => [n, 1]);
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    if (!isTag(top[0])) continue;
    deepest = Math.max(deepest, top[1]);
    for (const child of top[0].children) stack.push([child, top[1] + 1]);
  }
  assert.equal(deepest, MAX_DEPTH);
  assert.equal(extractData(deep.document, parseFields({ s: 'div > span' })).data.s, 'x');
  const big = tree('<b>x</b>'.repeat(MAX_NODES));
  assert.equal(big.truncated, true);
  assert.equal(big.document.children.length, MAX_NODES / 2);
  // Past the size, elements are opened outside the tree: 3 million unclosed ones leave it at its size.
  const unclosed = tree('<b>'.repeat(3_000_000));
  assert.equal(unclosed.truncated, true);
  let elements = 0;
  for (let n: AnyNode | undefined = unclosed.document.children[0]; n !== undefined && isTag(n); n = n.children.find(isTag))
    elements += n.children.filter(isTag).length + (n.parent === unclosed.document ? 1 : 0);
  assert.equal(elements, MAX_NODES);
});

test('a selector gone quadratic on a page stops at its share of the step budget, with what it found; the other fields keep theirs', () => {
  const list = `<h1>Items</h1><ul>${'<li>a</li>'.repeat(100_000)}</ul>`;
  // The first match is found at once; every match means every item counting its earlier siblings.
  const r = data(list, { second: 'li:nth-child(2)', 'seconds[]': 'li:nth-child(2)', title: 'h1' });
  assert.deepEqual(r.stopped, ['seconds']);
  assert.deepEqual(r.data, { second: 'a', seconds: ['a'], title: 'Items' });
  // The budget is the page's, not the process's: the next page starts afresh.
  assert.deepEqual(data('<ul><li>a</li><li>b</li></ul>', { second: 'li:nth-child(2)' }), { data: { second: 'b' }, stopped: [], failed: [] });
  // Long text counts too: a value read from text nested 500 deep, 9 MB of it, costs its cap, not the text times the depth.
  const deepText = `${'<div>'.repeat(500)}${'word '.repeat(1_800_000)}`;
  const t = data(deepText, { 'all[]': 'div' });
  assert.equal((t.data.all as string[])[0].length, 10_000);
  assert.ok((t.data.all as string[]).length >= 1);
});

test('the tree: implied end tags close <li>, <p>, <td> as HTML does; attributes are keys like any other', () => {
  assert.deepEqual(data('<ul><li>a<li>b<li>c</ul><p>one<p>two<div>three</div>', { 'li[]': 'ul > li', 'p[]': 'p', div: 'body > div, div' }).data, {
    li: ['a', 'b', 'c'],
    p: ['one', 'two'],
    div: 'three',
  });
  assert.deepEqual(data('<table><tr><td>1<td>2<tr><td>3</table>', { second: 'tr > td:nth-child(2)', 'rows[]': 'tr' }).data, { second: '2', rows: ['12', '3'] });
  // A <p> left open in an <li> or a cell, a heading left open: ended too; an <li> in a nested list leaves the outer one open.
  assert.deepEqual(
    data('<ul><li><p>one<li>two<ul><li>in</ul>after</ul><h2>a<h3>b', { 'li[]': 'body > ul > li, ul:not(ul ul) > li', 'h[]': 'h2, h3', inner: 'li li' }).data,
    {
      li: ['one', 'twoinafter'],
      h: ['a', 'b'],
      inner: 'in',
    },
  );
  const attrs = data('<a href="/x" constructor="c">x</a><b>y</b>', {
    c: 'a @constructor',
    proto: 'b @__proto__',
    ctor: 'b @constructor',
    sel: '[constructor^=c]',
  });
  assert.deepEqual(attrs, { data: { c: 'c', proto: null, ctor: null, sel: 'x' }, stopped: [], failed: [] });
});

// ---------------------------------------------------------------------------------------------
// A crawl of a shop

const hosts: TestHost[] = [];
after(() => Promise.all(hosts.map((h) => h.close())));

const PRODUCTS = Array.from({ length: 12 }, (_, i) => ({
  id: i,
  name: `Product ${i}`,
  price: (i * 3.25 + 1).toFixed(2),
  tags: i % 3 === 0 ? [] : [`t${i}`, `t${i + 1}`],
}));
const page =
  (body: string): Route =>
  (_req, res) => {
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end(`<!doctype html><html><body>${body}</body></html>`);
  };

async function shop(): Promise<TestHost> {
  const routes: Record<string, Route> = {
    '/': page(PRODUCTS.map((p) => `<a href="/p/${p.id}">${p.name}</a>`).join('')),
  };
  for (const p of PRODUCTS) {
    routes[`/p/${p.id}`] = page(
      `<h1> ${p.name} </h1><span class="price" data-value="${p.price}">$${p.price}</span>${p.tags.map((t) => `<a class="tag" href="/">${t}</a>`).join('')}`,
    );
  }
  const host = await startHost('127.0.0.4', routes);
  hosts.push(host);
  return host;
}

const FIELDS = { name: 'h1', price: 'span.price @data-value', 'tags[]': 'a.tag' };

for (const engine of ENGINES) {
  test(`a crawl's fields land in its records and exports (${engine.name})`, async () => {
    const host = await shop();
    const c = await crawlerOn(engine);
    await assert.rejects(
      c.crawls.start({ seeds: [host.url('/')], extract: { price: 'span..[' } }),
      (e: Error) => e instanceof QueueError && /^extract\.price: not a CSS selector/.test(e.message),
    );
    const crawl = await c.run({ seeds: [host.url('/')], extract: FIELDS });
    assert.deepEqual(crawl.options.extract, FIELDS);

    const records: PageRecord[] = [];
    for (let cursor: string | null | undefined; cursor !== null;) {
      const r = await c.crawls.pages(crawl.id, { cursor, limit: 5 });
      records.push(...(r.pages as unknown as PageRecord[]));
      cursor = r.nextCursor;
    }
    const byUrl = new Map(records.map((r) => [r.url, r]));
    assert.deepEqual(byUrl.get(host.url('/'))!.data, { name: null, price: null, tags: [] });
    for (const p of PRODUCTS) assert.deepEqual(byUrl.get(host.url(`/p/${p.id}`))!.data, { name: p.name, price: p.price, tags: p.tags }, `product ${p.id}`);
    assert.deepEqual((await c.crawls.page(crawl.id, host.url('/p/1'))).page.data, { name: 'Product 1', price: '4.25', tags: ['t1', 't2'] });

    // The export formats over these records: a JSON line's data is the object; CSV has a column per field.
    const ask = (async (method: string) => {
      assert.equal(method, 'crawl/get');
      return { crawl: { options: crawl.options } };
    }) as unknown as Ask;
    const fields = await exportFields(ask, crawl.id, 'pages', 'csv');
    assert.deepEqual(fields, ['name', 'price', 'tags']);
    assert.deepEqual(await exportFields(ask, crawl.id, 'pages', 'jsonl'), []);
    const wire = records.map((r) => ({ ...r, finalUrl: r.url, redirects: [] as string[] }));
    const lines = formatRecords('pages', 'jsonl', wire)
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as PageRecord);
    assert.deepEqual(lines.find((l) => l.url === host.url('/p/4'))!.data, { name: 'Product 4', price: '14.00', tags: ['t4', 't5'] });
    const header = fileHeader('pages', 'csv', fields).trimEnd().split(',');
    assert.deepEqual(header.slice(-4), ['data', 'data.name', 'data.price', 'data.tags']);
    const row = formatRecords(
      'pages',
      'csv',
      wire.filter((r) => r.url === host.url('/p/4')),
      { fields },
    )
      .trimEnd()
      .split(',');
    assert.deepEqual(row.slice(-3), ['Product 4', '14.00', 't4; t5']);
  });
}

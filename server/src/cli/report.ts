/**
 * `crawlctl report`: a crawl's audit (crawl/report) as a few sections that fit the terminal, 80
 * columns off one: statuses, content types, hosts, broken links with where they are linked from,
 * redirects, the slowest and largest pages, missing titles. And `crawlctl job`'s page record.
 * Every remote string (URLs, link texts, titles, content types, errors) goes through `Text`.
 */
import { CSV_LIST_SEPARATOR } from '../exports';
import type { CrawlReport, PageRecord } from '../protocol';
import { bytes, count, fields, fit, indent, lines, plural, shownWidth, table, text, type Text } from './format';

/** Broken URLs and redirects listed, at most; `--json` and `export` have them all. */
const LISTED_BROKEN = 50;
export const LISTED_REDIRECTS = 20;
/** Referrers shown under a broken URL before "and N more". */
export const LISTED_REFERRERS = 5;
/** Below this, a line is not worth fitting: it is cut where it is. */
const NARROWEST = 40;
const LABEL = 16;

/** `text/html × 800, none × 3`, after the label and wrapped under its column. */
function wrapped(label: string, items: readonly [string, number][], width: number): Text {
  const room = Math.max(NARROWEST, width) - LABEL;
  const rows: Text[] = [];
  let current: Text | null = null;
  let used = 0;
  items.forEach(([name, n], i) => {
    // A long name is cut, never its count.
    const tail = ` × ${count(n)}${i < items.length - 1 ? ',' : ''}`;
    const piece = text`${fit(name, room - tail.length)}${tail}`;
    const w = Math.min(shownWidth(name), room - tail.length) + tail.length;
    if (current === null) {
      current = piece;
      used = w;
    } else if (used + 1 + w > room) {
      rows.push(current);
      current = piece;
      used = w;
    } else {
      current = text`${current} ${piece}`;
      used += 1 + w;
    }
  });
  if (current !== null) rows.push(current);
  return lines(rows.map((row, i) => text`${i === 0 ? label.padEnd(LABEL) : ' '.repeat(LABEL)}${row}`));
}

function byCount(record: Record<string, number>): [string, number][] {
  return Object.entries(record).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

/** 200, 301, 404, then `error`. */
function byStatus(record: Record<string, number>): [string, number][] {
  const rank = (k: string) => (/^\d+$/.test(k) ? Number(k) : Infinity);
  return Object.entries(record).sort((a, b) => rank(a[0]) - rank(b[0]) || a[0].localeCompare(b[0]));
}

/** `url  "text"` in `room` columns: the text cut at its end first (down to 16 columns), then the URL in its middle. */
function urlAndText(url: string, linkText: string | null, room: number): Text {
  if (!linkText) return fit(url, room, 'middle');
  const u = shownWidth(url);
  const t = shownWidth(linkText) + 2;
  if (u + 2 + t <= room) return text`${url}  "${linkText}"`;
  const textRoom = Math.min(t, Math.max(16, room - 2 - u));
  const urlRoom = Math.max(10, room - 2 - textRoom);
  return text`${fit(url, urlRoom, 'middle')}  "${fit(linkText, textRoom - 2)}"`;
}

/** What went wrong: the error when there is one (a redirect loop answered 301, a handler that threw a 200), else the status. */
function statusOf(b: { status: number | null; error: string | null }): string {
  return b.error ?? (b.status !== null ? `HTTP ${b.status}` : 'no response');
}

/** Who sent the crawl to a broken URL: the pages linking to it, or, with none, the redirect that led there, or none (a seed). */
function linkedFrom(b: CrawlReport['brokenLinks'][number]): string {
  if (b.referrerCount > 0) return `linked from ${plural(b.referrerCount, 'page')}`;
  return b.foundOn === null ? 'linked from no page (a seed)' : 'reached by a redirect';
}

export function reportText(r: CrawlReport, columns = 80): Text {
  const width = Math.max(NARROWEST, columns);
  const out: Text[] = [text`Crawl ${r.crawlId}: ${count(r.pages)} ${r.pages === 1 ? 'page' : 'pages'}`, text``];

  const statuses = byStatus(r.byStatus);
  out.push(statuses.length ? wrapped('Statuses', statuses, width) : text`${'Statuses'.padEnd(LABEL)}none yet`);
  const types = byCount(r.byContentType);
  if (types.length) out.push(wrapped('Content types', types, width));
  out.push(text`${'Missing titles'.padEnd(LABEL)}${r.missingTitles ? `${plural(r.missingTitles, 'HTML page')} without a title` : 'none'}`);

  if (r.byHost.length) {
    out.push(text``, text`Hosts`);
    out.push(
      indent(
        table(
          [
            { title: 'HOST', flexible: true },
            { title: 'PAGES', align: 'right' },
            { title: 'ERRORS', align: 'right' },
            { title: 'MEAN FETCH', align: 'right' },
          ],
          r.byHost.map((h) => [h.host, count(h.pages), count(h.errors), h.meanFetchMs === null ? '' : `${count(Math.round(h.meanFetchMs))} ms`]),
          width - 2,
        ),
      ),
    );
  }

  out.push(text``);
  if (r.brokenCount === 0) out.push(text`Broken links: none`);
  else {
    out.push(text`Broken links (${count(r.brokenCount)} ${r.brokenCount === 1 ? 'URL' : 'URLs'})`);
    for (const b of r.brokenLinks.slice(0, LISTED_BROKEN)) {
      out.push(text`  ${fit(b.url, width - 2, 'middle')}`);
      const linked = linkedFrom(b);
      // The count kept whole: a long error is what gets cut.
      out.push(text`    ${fit(statusOf(b), width - 4 - 3 - linked.length)} · ${linked}`);
      const shown = b.referrers.slice(0, LISTED_REFERRERS);
      for (const ref of shown) out.push(text`      ${urlAndText(ref.url, ref.text, width - 6)}`);
      if (b.referrerCount === 0 && b.foundOn !== null) out.push(text`      from ${fit(b.foundOn, width - 11, 'middle')}`);
      const more = b.referrerCount - shown.length;
      if (more > 0) out.push(text`      and ${count(more)} more (crawlctl export ${r.crawlId} --what broken)`);
    }
    const shownBroken = Math.min(r.brokenLinks.length, LISTED_BROKEN);
    if (r.brokenCount > shownBroken) {
      out.push(text`  and ${count(r.brokenCount - shownBroken)} more broken URLs (crawlctl export ${r.crawlId} --what broken)`);
    }
  }

  out.push(text``);
  if (r.redirectCount === 0) out.push(text`Redirects: none`);
  else {
    out.push(text`Redirects (${count(r.redirectCount)})`);
    const room = width - 2 - 5 - 3;
    for (const x of r.redirects.slice(0, LISTED_REDIRECTS)) {
      const to = x.finalUrl ?? '(a loop, or too many hops)';
      const [a, b] = [shownWidth(x.url), shownWidth(to)];
      // Each URL gets half the room, and the other's unused half.
      const half = Math.floor(room / 2);
      const aRoom = a + b <= room ? a : Math.max(half, room - Math.min(b, half));
      const bRoom = room - Math.min(a, aRoom);
      out.push(text`  ${String(x.status).padEnd(3)}  ${fit(x.url, aRoom, 'middle')} → ${fit(to, bRoom, 'middle')}`);
    }
    const shownRedirects = Math.min(r.redirects.length, LISTED_REDIRECTS);
    if (r.redirectCount > shownRedirects)
      out.push(text`  and ${count(r.redirectCount - shownRedirects)} more (crawlctl export ${r.crawlId} --what pages | jq 'select(.redirects != [])')`);
  }

  const ranked = (title: string, rows: { url: string; value: string }[]) => {
    if (rows.length === 0) return;
    const w = Math.max(...rows.map((x) => x.value.length));
    out.push(text``, text`${title}`);
    for (const x of rows) out.push(text`  ${x.value.padStart(w)}  ${fit(x.url, width - 4 - w, 'middle')}`);
  };
  ranked(
    'Slowest pages',
    r.slowest.slice(0, 10).map((x) => ({ url: x.url, value: `${count(Math.round(x.fetchMs))} ms` })),
  );
  ranked(
    'Largest pages',
    r.largest.slice(0, 10).map((x) => ({ url: x.url, value: bytes(x.bytes) })),
  );
  return lines(out);
}

/** `job`'s lines for its page record: where it was found, its redirects, what the page said of itself. */
export function pageFields(p: PageRecord): Text {
  const foundOn = p.foundOn === null ? '(a seed)' : p.linkText ? `${p.foundOn}  "${p.linkText}"` : p.foundOn;
  return fields([
    ['found on', foundOn],
    ['redirects', p.redirects.length ? [p.url, ...p.redirects].join(' → ') : ''],
    ['status', p.status !== null ? `HTTP ${p.status}` : ''],
    ['error', p.error ?? ''],
    ['title', p.title ?? ''],
    ['description', p.description ?? ''],
    ['canonical', p.canonical ?? ''],
    ['robots', p.robots ?? ''],
    ['lang', p.lang ?? ''],
    ['type', p.contentType ?? ''],
    ['bytes', p.bytes === null ? '' : `${bytes(p.bytes)}${p.bytes >= 1024 ? ` (${count(p.bytes)} bytes)` : ''}`],
    ['fetch', p.fetchMs === null ? '' : `${count(Math.round(p.fetchMs))} ms`],
    ['fetched', p.fetchedAt ?? ''],
    ['lastmod', p.lastmod ?? ''],
    ['links', `${count(p.outlinks)} out · ${count(p.inlinks)} in`],
    ['sha256', p.sha256 ?? ''],
    // The crawl's extract fields, a row each: a list as the CSV export joins it.
    ...Object.entries(p.data ?? {}).map(([key, v]): [string, string] => [
      `data.${key}`,
      v === null || (Array.isArray(v) && v.length === 0)
        ? '(no match)'
        : Array.isArray(v)
          ? v.map(String).join(CSV_LIST_SEPARATOR)
          : typeof v === 'string'
            ? v
            : JSON.stringify(v),
    ]),
  ]);
}

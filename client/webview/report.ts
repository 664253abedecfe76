/**
 * The crawl report page, in the webview: draws the view the extension sends (client/src/report/
 * model.ts) and asks back for a page's job, the jobs of the crawl or of the pages a count stands
 * for, or a host's new limit. Text from the
 * web goes in as text (textContent), never as HTML. Every action is a button, so Tab and Enter
 * reach it; colours are the editor theme's. The chart is uPlot, bundled: the page loads nothing
 * from the network.
 */
import uPlot from 'uplot';
import { formatAge, formatBytes, formatClock, formatCount as fmt, formatDuration, formatRate } from '../src/format';
import type { CountRow, ReportMessage, ReportView } from '../src/report/model';

interface VsCodeApi {
  postMessage(message: ReportMessage): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const root = document.getElementById('report')!;
let chart: uPlot | null = null;
let chartBox: HTMLElement | null = null;

type Child = Node | string | null | undefined | false;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

/** A URL that opens its page's job; `data-key` finds it again after a redraw, to give it back the focus. */
function pageLink(url: string, where: string, label = url): HTMLButtonElement {
  const b = el('button', { class: 'link', title: `Show the job of ${url}`, 'data-key': `${where} ${url}` }, label);
  b.addEventListener('click', () => vscode.postMessage({ type: 'openPage', url }));
  return b;
}

function jobLink(id: number, url: string): HTMLButtonElement {
  const b = el('button', { class: 'link', title: `Show job ${id}`, 'data-key': `job ${id}` }, url);
  b.addEventListener('click', () => vscode.postMessage({ type: 'openJob', id }));
  return b;
}

/** Asks the extension for Set Host Limit on this host (an input box there), the report read again after. */
function limitButton(host: string): HTMLButtonElement {
  const b = el(
    'button',
    { class: 'link', title: `Set how many requests ${host} takes at once`, 'aria-label': `Set the limit of ${host}`, 'data-key': `limit ${host}` },
    'Set limit…',
  );
  b.addEventListener('click', () => vscode.postMessage({ type: 'setLimit', host }));
  return b;
}

/** A count's label that lists its pages' jobs in the Jobs view, where a filter reaches them. */
function countLabel(r: CountRow, where: string): Node | string {
  if (r.pages === null) return r.label;
  const pages = r.pages;
  const what = 'reason' in pages ? `the jobs that failed with ${r.label}` : `the jobs of the pages counted as ${r.label}`;
  const b = el('button', { class: 'link', title: `Show ${what}`, 'data-key': `${where} ${r.label}` }, r.label);
  b.addEventListener('click', () => vscode.postMessage({ type: 'showPages', label: r.label, pages }));
  return b;
}

function section(title: string, id: string, ...children: Child[]): HTMLElement {
  return el('section', { 'aria-labelledby': id }, el('h2', { id }, title), ...children);
}

function table(head: string[], rows: Child[][], empty: string): HTMLElement {
  if (rows.length === 0) return el('p', { class: 'quiet' }, empty);
  return el(
    'table',
    {},
    el('thead', {}, el('tr', {}, ...head.map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, ...rows.map((r) => el('tr', {}, ...r.map((c) => el('td', {}, c))))),
  );
}

function counts(v: ReportView): HTMLElement {
  const jobs = el('button', { class: 'link', 'data-key': 'jobs' }, 'Show its jobs');
  jobs.addEventListener('click', () => vscode.postMessage({ type: 'showJobs' }));
  return el(
    'p',
    { class: 'counts' },
    ...v.counts.flatMap((c, i) => [i > 0 ? ' · ' : '', el('span', { class: `tone-${c.tone}` }, `${c.label} ${fmt(c.count)}`)]),
    ` · ${formatRate(v.pagesPerSecond)} pages/s · `,
    jobs,
  );
}

/** The chart is made once and fed new points: made again on every read, it flickered and lost its cursor. */
function drawChart(v: ReportView): HTMLElement {
  chartBox ??= el('div', { class: 'chart', role: 'img' });
  // An image with its words, in the Tab order: the summary is also the line under it.
  chartBox.setAttribute('role', 'img');
  chartBox.setAttribute('tabindex', '0');
  chartBox.setAttribute('aria-label', `Pages and failures per second. ${v.rateSummary}`);
  const data: uPlot.AlignedData = [v.rates.map((r) => r.t), v.rates.map((r) => r.pages), v.rates.map((r) => r.errors)];
  const css = getComputedStyle(document.body);
  const color = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
  const width = Math.max(300, Math.min(900, root.clientWidth - 16));
  if (!chart) {
    chart = new uPlot(
      {
        width,
        height: 180,
        // Rates from zero; the time axis is set below: uPlot's own ranges for a point or two
        // spanned years and 0 to 100.
        scales: {
          x: { time: true, auto: false },
          y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] },
        },
        axes: [
          {
            stroke: color('--vscode-foreground', '#888'),
            grid: { stroke: color('--vscode-editorWidget-border', '#4444') },
            // Local clock times, no date, with room between them: uPlot's own put a date on the first ("12/8/26 3:23am") over the next.
            space: 80,
            values: (_u, ticks) => ticks.map((t) => formatClock(new Date(t * 1000).toISOString(), t * 1000)),
          },
          { stroke: color('--vscode-foreground', '#888'), grid: { stroke: color('--vscode-editorWidget-border', '#4444') } },
        ],
        series: [
          {},
          { label: 'pages/s', stroke: color('--vscode-charts-blue', '#3794ff'), width: 2 },
          { label: 'failures/s', stroke: color('--vscode-charts-red', '#f14c4c'), width: 2 },
        ],
      },
      data,
      chartBox,
    );
  } else {
    chart.setData(data);
    if (Math.abs(chart.width - width) > 4) chart.setSize({ width, height: 180 });
  }
  // A minute at least, ending at the last reading; an average, over the run it stands for (a
  // crawl of half a second drawn on a minute is a dot).
  const times = data[0];
  const end = times[times.length - 1];
  if (times.length > 0) chart.setScale('x', { min: v.ratesAveraged ? times[0] : Math.min(times[0], end - 60), max: end });
  return chartBox;
}

function render(v: ReportView): void {
  const now = Date.now();
  const broken = v.broken.map((b) => [
    pageLink(b.url, 'broken'),
    b.what,
    fmt(b.referrerCount),
    b.referrerCount === 0
      ? b.foundOn === null
        ? el('span', { class: 'quiet' }, 'no page fetched links to it (a seed)')
        : el('span', {}, el('span', { class: 'quiet' }, 'a redirect from '), pageLink(b.foundOn, `found ${b.url}`))
      : el(
          'span',
          {},
          ...b.referrers.flatMap((r, i) => [
            i > 0 ? el('br') : null,
            pageLink(r.url, `found ${b.url}`),
            r.text ? el('span', { class: 'quiet' }, ` “${r.text}”`) : null,
          ]),
          b.referrerCount > b.referrers.length ? el('span', { class: 'quiet' }, ` and ${fmt(b.referrerCount - b.referrers.length)} more`) : null,
        ),
  ]);
  const hosts = v.hosts.map((h) => [
    h.host,
    h.state === null ? el('span', { class: 'quiet' }, 'not listed') : el('span', { class: `state-${h.state}` }, h.state),
    [h.reason, h.until ? `until ${formatClock(h.until, now)}` : null].filter(Boolean).join(' · ') || '—',
    h.inFlight === null ? '—' : el('span', {}, `${h.inFlight}/${h.limit} `, limitButton(h.host)),
    fmt(h.queued),
    fmt(h.pages),
    fmt(h.errors),
    h.meanFetchMs === null ? '—' : formatDuration(h.meanFetchMs),
  ]);
  const workers = v.workers.map((w) => [
    w.self ? el('span', {}, w.workerId, el('span', { class: 'quiet' }, ' (this daemon)')) : w.workerId,
    w.state === null ? el('span', { class: 'quiet' }, 'not listed') : el('span', { class: `worker-${w.state}` }, w.state),
    w.crawlLeases === w.leases ? fmt(w.leases) : `${fmt(w.crawlLeases)} of ${fmt(w.leases)}`,
    w.stoppedAt !== null ? `stopped ${formatAge(w.stoppedAt, now)}` : formatAge(w.seenAt, now),
    w.leaseEndsAt === null ? '—' : formatClock(w.leaseEndsAt, now),
    w.jobs.length === 0 ? '—' : el('span', {}, ...w.jobs.flatMap((j, i) => [i > 0 ? el('br') : null, jobLink(j.id, j.url)])),
  ]);
  const parts: Child[] = [
    el('h1', {}, `${v.title} · ${v.state}`),
    counts(v),
    section(
      'Pages and failures per second',
      'rates',
      v.rates.length > 0 ? drawChart(v) : null,
      v.rates.length > 0 ? el('p', { class: 'quiet', 'aria-hidden': 'true' }, v.rateSummary) : null,
      v.ratesAveraged
        ? el(
            'p',
            { class: 'quiet' },
            v.state === 'running' || v.state === 'paused'
              ? 'Averaged since the crawl started; readings every two seconds follow while it runs.'
              : `Averaged over the crawl's run: it ${v.state} within one reading, or before this report was opened.`,
          )
        : null,
      v.rates.length > 0
        ? null
        : el(
            'p',
            { class: 'quiet' },
            v.state === 'running' || v.state === 'paused'
              ? 'Readings start when the report opens, every two seconds while the crawl runs.'
              : `The crawl ${v.state} before this report was opened; it fetched ${formatRate(v.pagesPerSecond)} pages a second on average.`,
          ),
    ),
    el(
      'div',
      { class: 'columns' },
      section(
        'By status',
        'status',
        table(
          ['Status', 'Pages'],
          v.byStatus.map((r) => [countLabel(r, 'status'), fmt(r.count)]),
          'No pages yet.',
        ),
      ),
      section(
        'Failures by reason',
        'failures',
        table(
          ['Reason', 'Jobs'],
          v.failures.map((r) => [countLabel(r, 'failure'), fmt(r.count)]),
          'Nothing failed.',
        ),
      ),
    ),
    section(
      `Broken links (${fmt(v.brokenCount)})`,
      'broken',
      table(['URL', 'What', 'Linked from', 'Found on'], broken, 'No broken links.'),
      v.brokenCount > v.broken.length
        ? el('p', { class: 'quiet' }, `The ${fmt(v.broken.length)} most linked of ${fmt(v.brokenCount)}; Export Crawl Results has them all.`)
        : null,
    ),
    section(
      `Redirects (${fmt(v.redirectCount)})`,
      'redirects',
      table(
        ['URL', 'Status', 'Ends at'],
        v.redirects
          .slice(0, 100)
          .map((r) => [pageLink(r.url, 'redirect'), String(r.status), r.finalUrl === null ? 'a loop' : pageLink(r.finalUrl, 'redirected')]),
        'No redirects.',
      ),
      v.redirectCount > Math.min(100, v.redirects.length)
        ? el('p', { class: 'quiet' }, `The first ${fmt(Math.min(100, v.redirects.length))} of ${fmt(v.redirectCount)}; Export Crawl Results has them all.`)
        : null,
    ),
    el(
      'div',
      { class: 'columns' },
      section(
        'Slowest',
        'slowest',
        table(
          ['URL', 'Fetch'],
          v.slowest.map((r) => [pageLink(r.url, 'slowest'), formatDuration(r.fetchMs)]),
          'No pages yet.',
        ),
      ),
      section(
        'Largest',
        'largest',
        table(
          ['URL', 'Size'],
          v.largest.map((r) => [pageLink(r.url, 'largest'), formatBytes(r.bytes)]),
          'No pages yet.',
        ),
      ),
    ),
    v.missingTitles > 0 ? el('p', {}, `${fmt(v.missingTitles)} HTML pages have no title.`) : null,
    section('Hosts', 'hosts', table(['Host', 'State', 'Why', 'In flight', 'Queued', 'Pages', 'Failed', 'Mean fetch'], hosts, 'No hosts yet.')),
    section(
      'Workers',
      'workers',
      table(
        ['Worker', 'State', 'Leases (this crawl)', 'Last heard', 'Lease ends', 'Fetching'],
        workers,
        v.workersListed ? 'No worker has run on this database.' : 'No worker holds a lease on this crawl now.',
      ),
      v.workersListed
        ? null
        : el('p', { class: 'quiet' }, "The daemon does not list its workers (it is older than this extension): those holding this crawl's leases are shown."),
    ),
  ];
  // Drawn anew, the page gives the focus back to the control that had it, so that reading with the
  // keyboard survives the readings of a running crawl.
  const focused = (document.activeElement as HTMLElement | null)?.dataset?.key;
  root.replaceChildren(...parts.filter((p): p is Node => p instanceof Node));
  // Only while the page has the focus: an input box or the Jobs view it opened keeps its own.
  if (focused !== undefined && document.hasFocus()) root.querySelector<HTMLElement>(`[data-key="${CSS.escape(focused)}"]`)?.focus();
}

/** What the page shows but the chart: a view whose rest is the same only feeds the chart its points. */
let shown = '';
function update(v: ReportView): void {
  lastView = v;
  const rest = JSON.stringify({ ...v, rates: undefined });
  if (rest === shown && chart && v.rates.length > 0) {
    drawChart(v);
    return;
  }
  shown = rest;
  render(v);
}

// A theme switch changes the body's class and the colour variables; the chart read its colours
// when it was made, so it is made again with the new ones.
let lastView: ReportView | null = null;
new MutationObserver(() => {
  if (!chart || !lastView) return;
  chart.destroy();
  chart = null;
  chartBox?.replaceChildren();
  drawChart(lastView);
}).observe(document.body, { attributes: true, attributeFilter: ['class'] });

window.addEventListener('resize', () => {
  if (chart) chart.setSize({ width: Math.max(300, Math.min(900, root.clientWidth - 16)), height: 180 });
});

window.addEventListener('message', (e: MessageEvent<{ type: 'view'; view: ReportView } | { type: 'error'; message: string }>) => {
  const m = e.data;
  if (m.type === 'view') update(m.view);
  else if (m.type === 'error') {
    const text = `Could not read the crawl: ${m.message}`;
    const had = root.querySelector('.error');
    if (had?.textContent === text) return;
    had?.remove();
    root.prepend(el('p', { class: 'error', role: 'alert' }, text));
    shown = '';
  }
});
vscode.postMessage({ type: 'ready' });

/**
 * crawlctl's commands: each one's flags, help and what it does (COMMANDS), and what they share:
 * starting and following a crawl, steering one, asking the daemon, printing for people or for
 * scripts. The entry point (crawlctl.ts) parses a command line into one of these and reports
 * how it ended.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { finished } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { DaemonClient, NoDaemonError } from '../daemon/transport/client';
import { UsageError, type FlagSpecs, type FlagValues } from '../daemon/process/args';
import type { Daemon } from '../daemon/daemon';
import { tuneHeap } from '../daemon/process/heap';
import { PATH_FLAGS, WORKER_FLAGS, daemonOptions } from '../daemon/process/options';
import { redactUrl } from '../core/db-url';
import type { PathFlags } from '../daemon/process/paths';
import {
  ADDRESS_POLICIES,
  crawlProgress,
  FINISHED_STATES,
  JOB_STATES,
  MAX_REASONS_LISTED,
  REPORT_LISTED,
  SCOPES,
  SEED_FILE_EXTENSION,
  type AddressPolicy,
  type Crawl,
  type Job,
  type Method,
  type ParamsOf,
  type ResultOf,
  type Scope,
} from '../protocol';
import { EXIT } from '../exit';
import { formatClock, localTimes } from '../times';
import { nearest } from '../core/suggest';
import { EXPORT_FORMATS, EXPORT_KINDS, OutputError, Sink, type Ask, type ExportFormat, type ExportKind } from '../exports';
import { exportCrawl, type ExportCounts } from './export';
import { bytes, count, fields, plural, relative, shellWord, table, text, type Text } from './format';
import { pageFields, reportText } from './report';
import { Ui } from './ui';
import { crawlOutcome, summary, watchCrawl } from './watch';

const COMMON = {
  'state-dir': PATH_FLAGS['state-dir'],
  socket: PATH_FLAGS.socket,
  json: { type: 'boolean', help: 'print the result as JSON, for scripts' },
  help: { type: 'boolean', help: 'show help for the command' },
} as const satisfies FlagSpecs;

/** What a crawl does: on the command line with URLs, or in a seed file's option lines. */
const CRAWL_OPTION_FLAGS = {
  'max-depth': {
    type: 'int',
    min: 0,
    max: 1000,
    value: 'N',
    help: "links followed from the seeds, at most (default: the daemon's --default-max-depth, which is no limit unless set)",
  },
  'max-pages': { type: 'int', min: 1, max: 100_000_000, value: 'N', help: 'pages in the crawl, at most (default 10000)' },
  scope: { type: 'string', choices: SCOPES, value: 'S', help: "which links to follow: host, domain or any (default: the daemon's --default-scope)" },
  include: { type: 'list', value: 'PATTERN', help: 'only URLs matching this glob (or /regex/); repeatable' },
  exclude: { type: 'list', value: 'PATTERN', help: 'no URLs matching this glob (or /regex/); repeatable' },
  name: { type: 'string', value: 'TEXT', help: 'a name for the crawl' },
  'follow-nofollow': { type: 'boolean', help: 'follow rel=nofollow links too' },
  'store-bodies': { type: 'boolean', help: "keep the pages' bodies in the state folder" },
  sitemaps: { type: 'boolean', help: "crawl the URLs of the seeds' hosts' sitemaps too (robots.txt's Sitemap: lines, else /sitemap.xml), at depth 0" },
  warc: { type: 'boolean', help: "keep every response, with its request, in WARC files: the state folder's warc/<crawl>-<n>.warc.gz, listed after --wait" },
  extract: {
    type: 'list',
    value: 'FIELD=SPEC',
    help: "a field of each page's record data: price='span.price' (the first match's text), price='span.price @data-value' (an attribute of it), tags[]=a.tag (every match); repeatable",
  },
  handler: {
    type: 'string',
    value: 'FILE',
    help: "a JavaScript module inside the daemon's workspace, called with each page on a thread of the daemon: export default async (page) => ({ data, enqueue })",
  },
  'handler-timeout': { type: 'int', min: 1, max: 600, value: 'SECONDS', help: 'how long the handler may take over a page before the page fails (default 10)' },
  addresses: {
    type: 'string',
    choices: ADDRESS_POLICIES,
    value: 'A',
    help: "addresses the crawl may connect to: public, private (loopback, private, link-local) or any (default: the daemon's --default-addresses, else the kind of the seeds)",
  },
} as const satisfies FlagSpecs;

const ALLOW_FAILURES = { type: 'boolean', help: 'exit 0 even when pages ended in error (broken links); a cancelled crawl still exits 1' } as const;

const REASON_FLAG = {
  type: 'string',
  value: 'TEXT',
  help: 'only failed jobs of this reason, as "crawlctl reasons" lists them (e.g. \'HTTP 404\', ECONNREFUSED)',
} as const;

const CRAWL_FLAGS = {
  ...COMMON,
  ...CRAWL_OPTION_FLAGS,
  wait: { type: 'boolean', help: 'show progress until the crawl ends, then a summary; exit 1 if a page ended in error; runs a daemon if none is running' },
  'allow-failures': ALLOW_FAILURES,
  db: PATH_FLAGS.db,
  ...WORKER_FLAGS,
} as const satisfies FlagSpecs;

const EXPORT_FLAGS = {
  ...COMMON,
  json: { type: 'boolean', help: "with --output, print the summary as JSON on stdout (the data's own format is --format's)" },
  what: {
    type: 'string',
    choices: EXPORT_KINDS,
    value: 'W',
    help: 'pages (one record per URL), links (every link: from, to, text, followed, reason) or broken (each failed URL once per page linking to it) (default pages)',
  },
  format: { type: 'string', choices: EXPORT_FORMATS, value: 'F', help: 'jsonl (a JSON object a line) or csv (RFC 4180, a header row first) (default jsonl)' },
  output: { type: 'string', value: 'FILE', help: 'write to FILE (created or truncated; -o for short) rather than stdout, and a one-line summary on stderr' },
} as const satisfies FlagSpecs;

/** Long enough for the biggest requeue; short enough that a hung daemon does not hang scripts. */
const REQUEST_TIMEOUT_MS = 60_000;
/** On Ctrl-C, running pages get this long before they go back to the queue. */
const INTERRUPT_STOP_DEADLINE_MS = 1_000;

export interface Command {
  summary: string;
  args: string;
  flags: FlagSpecs;
  /** Printed under the flags in the command's --help. */
  more?: string;
  /** Single-letter spellings of its flags: `-o` for `--output`. */
  short?: Record<string, string>;
  run(ctx: Context, flags: Record<string, unknown>, positionals: string[]): Promise<number>;
}

export interface Context {
  ui: Ui;
  paths: PathFlags;
  /** Resolves on Ctrl-C. */
  interrupted: Promise<void>;
  connect(): Promise<DaemonClient>;
}

export class CommandError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

export const COMMANDS: Record<string, Command> = {
  crawl: {
    summary: 'start a crawl from seed URLs or a seed file (*.crawl, or - for one on stdin); pause, resume or cancel one',
    args: '(<url...> | <file.crawl> | - | pause|resume|cancel <crawlId>)',
    flags: CRAWL_FLAGS,
    more: `A seed file (site.crawl, or - to read one from stdin) holds the crawl's options in its own lines
(name, max-depth, max-pages, scope, include, exclude, follow-nofollow, store-bodies, addresses,
warc, sitemaps, extract.<field>, handler, handler-timeout),
then its URLs: the flags that set those options are refused with a seed file; --wait and the
others apply.

Exit codes: 0 started (with --wait: the crawl finished, every page done or skipped; a warning on
stderr when none was fetched) · 1 a seed was rejected, or with --wait the crawl was cancelled or a
page ended in error (a broken link, an unreachable host), unless --allow-failures · 2 usage error ·
3 no daemon running (without --wait)
· 130 interrupted (the crawl goes on in a daemon that was already running).`,
    async run(ctx, f: FlagValues<typeof CRAWL_FLAGS>, args) {
      if (isSteer(args[0])) return steer(ctx, args[0], f, args.slice(1));
      // "crawl pauze c_1a2b": a word, not a URL, near a steer's.
      const steerMeant = args.length === 2 && /^[a-z]+$/i.test(args[0]) ? nearest(args[0], Object.keys(STEERS)) : null;
      if (steerMeant) throw new UsageError(`crawl: "${args[0]}" is neither a URL nor a seed file; did you mean "crawlctl crawl ${steerMeant} ${args[1]}"?`);
      const start = await crawlStart(f, args);
      let client: DaemonClient;
      let own: Daemon | null = null;
      let stopReason = 'its crawl is over';
      let stopDeadline: number | undefined;
      try {
        client = await ctx.connect();
      } catch (err) {
        if (!(err instanceof NoDaemonError) || !f.wait) throw err;
        own = await startOwnDaemon(ctx, f);
        try {
          client = await ctx.connect();
        } catch (again) {
          await own.stop('its client could not connect');
          throw again;
        }
      }
      const workerFlags = Object.keys(WORKER_FLAGS).filter((k) => k in f);
      if (!own && (workerFlags.length || f.db)) {
        ctx.ui.err(
          text`note: ${[...workerFlags, ...(f.db ? ['db'] : [])].map((k) => `--${k}`).join(', ')} ignored: a daemon is already running; they apply to a daemon this command starts`,
        );
      }
      try {
        const started =
          start.method === 'seeds/start'
            ? await client.requestWithin('seeds/start', start.params, REQUEST_TIMEOUT_MS)
            : await client.requestWithin('crawl/start', start.params, REQUEST_TIMEOUT_MS);
        for (const r of started.rejected) ctx.ui.err(text`rejected ${r.url}: ${r.reason}`);
        const partial = started.rejected.length ? EXIT.failed : EXIT.ok;
        if (!f.wait) {
          if (ctx.ui.json) ctx.ui.result(started);
          else
            ctx.ui.out(text`Started crawl ${started.crawlId}: ${plural(started.enqueued, 'seed')} queued. Follow it with "crawlctl watch ${started.crawlId}".`);
          return partial;
        }
        if (!ctx.ui.json)
          ctx.ui.err(text`Crawl ${started.crawlId} started${own ? text` on a daemon of its own (${redactUrl(own.paths.db)})` : ''}; Ctrl-C to stop waiting.`);
        const code = await follow(ctx, client, started.crawlId, f['allow-failures'] === true, started);
        if (code === EXIT.interrupted) {
          stopReason = 'interrupted';
          stopDeadline = INTERRUPT_STOP_DEADLINE_MS;
          ctx.ui.err(
            own
              ? text`Interrupted: stopping; running pages go back to the queue.`
              : text`Interrupted. The crawl goes on in the daemon: "crawlctl watch ${started.crawlId}" shows it again.`,
          );
          return code;
        }
        return Math.max(code, partial);
      } finally {
        client.close();
        if (own) await own.stop(stopReason, stopDeadline);
      }
    },
  },

  watch: {
    summary: "show a crawl's progress until it ends, then its summary, as crawl --wait does",
    args: '<crawlId>',
    flags: { ...COMMON, 'allow-failures': ALLOW_FAILURES },
    more: `Exit codes: 0 the crawl finished, every page done or skipped (a warning on stderr when none
was fetched) · 1 no such crawl, or it was cancelled or a page ended in error (unless
--allow-failures) · 2 usage error · 3 no daemon running · 130 interrupted (the crawl goes on).`,
    async run(ctx, f, args) {
      if (args.length !== 1) throw new UsageError('watch: give one crawl id ("crawlctl crawls" lists them)');
      const client = await ctx.connect();
      try {
        // An unknown id is refused here, before anything is drawn.
        await client.requestWithin('crawl/get', { crawlId: args[0] }, REQUEST_TIMEOUT_MS);
        const code = await follow(ctx, client, args[0], f['allow-failures'] === true, {});
        if (code === EXIT.interrupted) ctx.ui.err(text`Stopped watching; the crawl goes on in the daemon.`);
        return code;
      } finally {
        client.close();
      }
    },
  },

  crawls: {
    summary: 'list crawls',
    args: '',
    flags: COMMON,
    async run(ctx) {
      const client = await ctx.connect();
      try {
        const [r, sched] = await Promise.all([
          client.requestWithin('crawl/list', {}, REQUEST_TIMEOUT_MS),
          client.requestWithin('scheduler/status', {}, REQUEST_TIMEOUT_MS),
        ]);
        if (ctx.ui.json) return show(ctx, { ...r, daemonPaused: sched.paused });
        if (r.crawls.length === 0) return say(ctx, text`No crawls yet. Start one with "crawlctl crawl <url>".`);
        // A running crawl makes no progress on a paused daemon: "running" would say it does.
        const held = (c: Crawl) => sched.paused && c.state === 'running';
        ctx.ui.out(
          table(
            [
              { title: 'CRAWL' },
              { title: 'STATE' },
              { title: 'PAGES', align: 'right' },
              { title: 'DONE', align: 'right' },
              { title: 'ERROR', align: 'right' },
              { title: 'QUEUED', align: 'right' },
              { title: 'CANCELLED', align: 'right' },
              { title: 'STARTED' },
              { title: 'NAME / SEEDS', flexible: true },
            ],
            r.crawls.map((c) => [
              c.crawlId,
              held(c) ? 'daemon paused' : c.state,
              String(c.pages),
              String(c.counts.done),
              String(c.counts.error),
              String(c.counts.queued),
              String(crawlProgress(c).cancelled),
              relative(c.createdAt),
              c.name ?? c.seeds.join(' '),
            ]),
            ctx.ui.columns,
          ),
        );
        if (r.crawls.some(held)) ctx.ui.out(text`\nThis daemon is paused: no page starts until "crawlctl resume".`);
        return EXIT.ok;
      } finally {
        client.close();
      }
    },
  },

  enqueue: {
    summary: 'enqueue standalone URLs (or "-" to read them from stdin, one a line)',
    args: '<url...|->',
    flags: {
      ...COMMON,
      crawl: { type: 'string', value: 'ID', help: 'add them to this crawl' },
      priority: { type: 'int', min: -1000, max: 1000, value: 'N', help: 'higher runs first (default 0)' },
      'max-attempts': { ...WORKER_FLAGS['max-attempts'], help: "attempts before a job fails for good (default: the daemon's --max-attempts)" },
    },
    async run(ctx, f, args) {
      const urls = args.length === 1 && args[0] === '-' ? await stdinLines() : args;
      if (urls.length === 0) throw new UsageError('enqueue: give at least one URL (or "-" and URLs on stdin)');
      const r = await request(ctx, 'jobs/enqueue', {
        urls,
        crawlId: f.crawl as string | undefined,
        priority: f.priority as number | undefined,
        maxAttempts: f['max-attempts'] as number | undefined,
      });
      for (const x of r.rejected) ctx.ui.err(text`rejected ${x.url}: ${x.reason}`);
      if (ctx.ui.json) ctx.ui.result(r);
      else
        ctx.ui.out(
          text`Enqueued ${plural(r.enqueued, 'job')}${r.duplicates ? `; ${plural(r.duplicates, 'duplicate')} left out` : ''}${r.rejected.length ? `; ${r.rejected.length} rejected` : ''}.`,
        );
      return r.rejected.length ? EXIT.failed : EXIT.ok;
    },
  },

  stats: {
    summary: 'jobs by state, jobs per second, and why nothing runs if nothing does',
    args: '',
    flags: COMMON,
    async run(ctx) {
      const client = await ctx.connect();
      try {
        const [s, sched] = await Promise.all([
          client.requestWithin('queue/stats', {}, REQUEST_TIMEOUT_MS),
          client.requestWithin('scheduler/status', {}, REQUEST_TIMEOUT_MS),
        ]);
        if (ctx.ui.json) return show(ctx, s);
        ctx.ui.out(
          table([{ title: 'STATE' }, { title: 'JOBS', align: 'right' }], [...JOB_STATES.map((st) => [st, String(s[st])]), ['total', String(s.total)]]),
        );
        ctx.ui.out(
          text`\n${s.jobsPerSecond.toFixed(1)} jobs/s · this daemon: ${sched.running}/${sched.maxWorkers} running${sched.paused ? ', paused' : ''} (worker ${sched.workerId})`,
        );
        if (sched.idleReason) ctx.ui.out(text`${localTimes(sched.idleReason, Date.now())}`);
        return EXIT.ok;
      } finally {
        client.close();
      }
    },
  },

  jobs: {
    summary: 'list jobs, newest last',
    args: '',
    flags: {
      ...COMMON,
      state: { type: 'string', choices: JOB_STATES, value: 'STATE', help: `only jobs in this state (${JOB_STATES.join(', ')})` },
      host: { type: 'string', value: 'HOST', help: 'only jobs of this host' },
      crawl: { type: 'string', value: 'ID', help: 'only jobs of this crawl' },
      search: { type: 'string', value: 'TEXT', help: 'only jobs with this HTTP status (404, 5xx), or with TEXT in their URL or error' },
      reason: REASON_FLAG,
      limit: { type: 'int', min: 1, max: 1000, value: 'N', help: 'jobs per page (default 50)' },
      cursor: { type: 'string', value: 'C', help: 'the page after this cursor (printed under a full page)' },
      all: { type: 'boolean', help: 'every page, not just the first' },
    },
    async run(ctx, f) {
      failedOnly('jobs', f);
      const client = await ctx.connect();
      try {
        const filter = {
          state: f.state as Job['state'] | undefined,
          host: f.host as string | undefined,
          crawlId: f.crawl as string | undefined,
          search: f.search as string | undefined,
          reason: f.reason as string | undefined,
          limit: (f.limit as number | undefined) ?? 50,
        };
        let page = await client.requestWithin('jobs/list', { ...filter, cursor: (f.cursor as string | undefined) ?? null }, REQUEST_TIMEOUT_MS);
        const jobs = [...page.jobs];
        while (f.all && page.nextCursor) {
          page = await client.requestWithin('jobs/list', { ...filter, limit: 1000, cursor: page.nextCursor }, REQUEST_TIMEOUT_MS);
          jobs.push(...page.jobs);
        }
        if (ctx.ui.json) return show(ctx, { jobs, nextCursor: page.nextCursor });
        // A search examines a bounded number of jobs per page: none found yet is not none at all.
        if (jobs.length === 0 && !page.nextCursor) return say(ctx, text`No jobs match.`);
        if (jobs.length === 0) ctx.ui.err(text`No match among the jobs searched so far.`);
        else ctx.ui.out(jobTable(jobs, ctx.ui.columns));
        if (page.nextCursor) ctx.ui.err(text`More: crawlctl jobs --cursor ${page.nextCursor}${flagsAgain(f)} (or --all)`);
        return EXIT.ok;
      } finally {
        client.close();
      }
    },
  },

  job: {
    summary: "one job's record and its events",
    args: '<id>',
    flags: COMMON,
    async run(ctx, _f, args) {
      if (args.length !== 1 || !/^\d{1,15}$/.test(args[0]) || Number(args[0]) < 1) throw new UsageError('job: give one job id (a positive whole number)');
      const got = await request(ctx, 'jobs/get', { id: Number(args[0]) });
      // A daemon from before page records sends none: null all the same, for scripts.
      const r = { ...got, page: got.page ?? null };
      if (ctx.ui.json) return show(ctx, r);
      const j = r.job;
      const now = Date.now();
      const rows: [string, string][] = [
        ['id', String(j.id)],
        ['url', j.url],
        ['host', j.host],
        ['state', j.state],
        ['crawl', j.crawlId ?? '(standalone)'],
        ['depth', j.depth === null ? '' : String(j.depth)],
        ['priority', String(j.priority)],
        ['attempts', `${j.attempts} of ${j.maxAttempts}`],
        ['worker', j.workerId ?? ''],
      ];
      if (j.state === 'in_progress') rows.push(['lease', `expires ${relative(j.leaseExpiresAt, now)}, heartbeat ${relative(j.heartbeatAt, now)}`]);
      if (j.result) {
        const x = j.result;
        rows.push([
          'result',
          [x.status !== null ? `HTTP ${x.status}` : '', x.contentType ?? '', bytes(x.bytes), x.durationMs !== null ? `${x.durationMs} ms` : '']
            .filter(Boolean)
            .join(' · '),
        ]);
        // The page record below has the title, and more.
        if (x.title && !r.page) rows.push(['title', x.title]);
        if (x.finalUrl && x.finalUrl !== j.url) rows.push(['final url', x.finalUrl]);
      }
      if (j.lastError) rows.push([j.state === 'error' ? 'error' : 'note', localTimes(j.lastError, now)]);
      rows.push(
        ['created', `${formatClock(j.createdAt, now)} (${relative(j.createdAt, now)})`],
        ['updated', `${formatClock(j.updatedAt, now)} (${relative(j.updatedAt, now)})`],
      );
      ctx.ui.out(fields(rows));
      if (r.page) ctx.ui.out(text`\nPage record:\n${pageFields(r.page)}`);
      ctx.ui.out(
        text`\n${table(
          [{ title: 'AT' }, { title: 'EVENT' }, { title: 'WORKER' }, { title: 'DETAIL', flexible: true }],
          r.events.map((e) => [formatClock(e.at, now, { ms: true }), e.type, e.workerId ?? '', e.detail === null ? '' : localTimes(e.detail, now)]),
          ctx.ui.columns,
        )}`,
      );
      return EXIT.ok;
    },
  },

  report: {
    summary: "a crawl's audit: statuses, content types, hosts, broken links and the pages linking to them, redirects, slowest and largest pages",
    args: '<crawlId>',
    flags: COMMON,
    more: `Long URLs are cut in the middle (…) to fit the terminal, or 80 columns off one; --json has
them whole, and the first ${REPORT_LISTED.toLocaleString('en-US')} broken links and redirects with how many there are
(brokenCount, redirectCount); export --what broken has every broken link.

Exit codes: 0 the report was printed, broken links or not (crawl --wait and watch fail on them) ·
1 no such crawl · 2 usage error · 3 no daemon running.`,
    async run(ctx, _f, args) {
      if (args.length !== 1) throw new UsageError('report: give one crawl id ("crawlctl crawls" lists them)');
      const r = await request(ctx, 'crawl/report', { crawlId: args[0] });
      if (ctx.ui.json) return show(ctx, r);
      ctx.ui.out(reportText(r, ctx.ui.columns ?? 80));
      return EXIT.ok;
    },
  },

  export: {
    summary: "write a crawl's pages, links or broken links as JSON lines or CSV, streamed (to stdout, or -o FILE)",
    args: '<crawlId>',
    flags: EXPORT_FLAGS,
    short: { '-o': '--output' },
    more: `Examples:
  crawlctl export c_1a2b3c > pages.jsonl
  crawlctl export c_1a2b3c --what broken --format csv -o broken.csv
  crawlctl export c_1a2b3c --what links | jq -r 'select(.followed | not) | .to'

Pages are in the order the crawl met them, their fields those of crawl/pages (in CSV: redirects
joined with spaces, data as JSON text, nulls as empty cells). Broken: every URL that failed, as
report counts them (a 4xx, a 5xx, no response, a redirect loop, a handler that threw), once per
page linking to it (url, status, error, referrer, text); one reached only by a redirect names
the redirecting page, and a seed has an empty referrer. Memory stays flat however large the
crawl: records are fetched 1,000 at a time as the output takes them. CSV cells are written exact
(no guard against spreadsheet formulas: an export is data), except on a terminal, where control
characters are shown escaped.

Exit codes: 0 exported, or the reader stopped early (| head) · 1 no such crawl, or the export
failed part way (the daemon, or writing FILE: the output is then incomplete) · 2 usage error, or
FILE cannot be created · 3 no daemon running · 130 interrupted.`,
    async run(ctx, f: FlagValues<typeof EXPORT_FLAGS>, args) {
      if (args.length !== 1) throw new UsageError('export: give one crawl id ("crawlctl crawls" lists them)');
      const [crawlId] = args;
      // As the daemon's: left to itself, V8 let garbage grow the heap with the export's length
      // (peak RSS 143 MB at 100,000 pages, 171 MB at 500,000); grown by 30%, 125 and 127 MB.
      tuneHeap();
      const what = (f.what ?? 'pages') as ExportKind;
      const format = (f.format ?? 'jsonl') as ExportFormat;
      const client = await ctx.connect();
      const output = f.output;
      let file: fs.WriteStream | null = null;
      try {
        // An unknown crawl is refused before any output: no file created or truncated.
        await client.requestWithin('crawl/get', { crawlId }, REQUEST_TIMEOUT_MS);
        if (output !== undefined) file = await openOutput(output);
        const sink = new Sink(file ?? process.stdout);
        const ask: Ask = (method, params) => client.requestWithin(method, params, REQUEST_TIMEOUT_MS);
        let counts: ExportCounts;
        try {
          counts = await exportCrawl(ask, crawlId, what, format, sink, { terminal: !file && process.stdout.isTTY === true });
          if (file) {
            file.end();
            await finished(file);
          }
        } catch (err) {
          // The reader of stdout went away (| head): done, as on EPIPE. Any other failure (a full disk) is one.
          if (err instanceof OutputError && !file && err.readerGone) return EXIT.ok;
          if (err instanceof OutputError || (file && (err as NodeJS.ErrnoException).syscall))
            throw new CommandError(`cannot write ${output ?? 'standard output'}: ${(err as Error).message}`, EXIT.failed);
          if (output !== undefined) ctx.ui.err(text`crawlctl export: ${output} is incomplete.`);
          throw err;
        }
        if (output !== undefined) {
          if (ctx.ui.json) ctx.ui.result({ crawlId, what, format, file: output, rows: counts.rows, ...(what === 'broken' && { urls: counts.urls }) });
          else ctx.ui.err(text`exported ${exported(what, counts)} to ${output}`);
        }
        return EXIT.ok;
      } finally {
        client.close();
        if (file && !file.closed) file.destroy();
      }
    },
  },

  requeue: {
    summary: 'put finished jobs back in the queue: by id, every job in a state, or the failed jobs of a reason',
    args: '(<id...> | --state STATE | --reason TEXT)',
    flags: {
      ...COMMON,
      state: { type: 'string', choices: FINISHED_STATES, value: 'STATE', help: 'every job in this state (error, skipped or done)' },
      host: { type: 'string', value: 'HOST', help: 'only jobs of this host' },
      crawl: { type: 'string', value: 'ID', help: 'only jobs of this crawl' },
      reason: REASON_FLAG,
    },
    async run(ctx, f, args) {
      const bad = args.find((a) => !/^\d{1,15}$/.test(a) || Number(a) < 1);
      if (bad !== undefined) throw new UsageError(`requeue: "${bad}" is not a job id`);
      const state = f.state as (typeof FINISHED_STATES)[number] | undefined;
      if (args.length === 0 && !state && f.reason === undefined) throw new UsageError('requeue: give job ids, or --state (e.g. --state error), or --reason');
      failedOnly('requeue', f);
      const r = await request(ctx, 'jobs/requeue', {
        ids: args.length ? args.map(Number) : undefined,
        state,
        host: f.host as string | undefined,
        crawlId: f.crawl as string | undefined,
        reason: f.reason as string | undefined,
      });
      if (ctx.ui.json) {
        show(ctx, r);
      } else {
        const of = args.length ? ` of ${args.length}` : '';
        say(ctx, text`Requeued ${plural(r.requeued, 'job')}${of}.`);
      }
      // Ids that did not go back (no such job, or not in the state asked for): part of it was refused.
      if (args.length > 0 && r.requeued < args.length) {
        throw new CommandError(
          `${args.length - r.requeued} of the ids given were not requeued: no such job, or not ${state ? `in state ${state}` : 'finished or running'}`,
          EXIT.failed,
        );
      }
      return EXIT.ok;
    },
  },

  reasons: {
    summary: 'failed jobs counted by why they failed (the reason of their error), most first',
    args: '',
    flags: {
      ...COMMON,
      crawl: { type: 'string', value: 'ID', help: 'only the failed jobs of this crawl' },
      limit: { type: 'int', min: 1, max: MAX_REASONS_LISTED, value: 'N', help: `reasons listed, at most (default ${MAX_REASONS_LISTED})` },
    },
    more: `A reason is the error without the URLs it happened at, and with figures in ms, s or bytes
made N: "ECONNREFUSED", "HTTP 404", "took longer than N ms". List a reason's jobs with
"crawlctl jobs --reason TEXT", put them back in the queue with "crawlctl requeue --reason TEXT"
(both with --crawl ID to keep to one crawl).

Exit codes: 0 listed (none failed, too) · 1 no such crawl · 2 usage error · 3 no daemon running.`,
    async run(ctx, f) {
      const crawlId = f.crawl as string | undefined;
      const client = await ctx.connect();
      try {
        // An unknown crawl is refused, not shown as one where nothing failed.
        if (crawlId !== undefined) await client.requestWithin('crawl/get', { crawlId }, REQUEST_TIMEOUT_MS);
        const r = await client.requestWithin('jobs/reasons', { crawlId, limit: f.limit as number | undefined }, REQUEST_TIMEOUT_MS);
        if (ctx.ui.json) return show(ctx, r);
        if (r.reasons.length === 0) return say(ctx, text`No failed jobs${crawlId ? text` in crawl ${crawlId}` : ''}.`);
        ctx.ui.out(
          table(
            [
              { title: 'FAILED', align: 'right' },
              { title: 'REASON', flexible: true },
            ],
            r.reasons.map((x) => [String(x.count), x.reason]),
            ctx.ui.columns,
          ),
        );
        if (r.reasons.length === (f.limit ?? MAX_REASONS_LISTED)) ctx.ui.err(text`The ${r.reasons.length} most common reasons; there may be more.`);
        return EXIT.ok;
      } finally {
        client.close();
      }
    },
  },

  leases: {
    summary: 'jobs running now, by any daemon, with their lease',
    args: '',
    flags: COMMON,
    async run(ctx) {
      const r = await request(ctx, 'leases/list', {});
      if (ctx.ui.json) return show(ctx, r);
      if (r.leases.length === 0) return say(ctx, text`No job is running.`);
      ctx.ui.out(
        table(
          [
            { title: 'JOB', align: 'right' },
            { title: 'WORKER' },
            { title: 'LEASED' },
            { title: 'EXPIRES' },
            { title: 'HEARTBEAT' },
            { title: 'URL', flexible: true },
          ],
          r.leases.map((l) => [String(l.jobId), l.workerId, relative(l.leasedAt), relative(l.expiresAt), relative(l.heartbeatAt), l.url]),
          ctx.ui.columns,
        ),
      );
      return EXIT.ok;
    },
  },

  workers: {
    summary: 'every worker of this database, live, stopped or lost, with the leases it holds',
    args: '',
    flags: { ...COMMON, limit: { type: 'int', min: 1, max: 1000, value: 'N', help: 'workers listed, at most (default 200), the most recently seen first' } },
    async run(ctx, f) {
      const r = await request(ctx, 'workers/list', { limit: f.limit as number | undefined });
      if (ctx.ui.json) return show(ctx, r);
      if (r.workers.length === 0) return say(ctx, text`No worker has run on this database yet.`);
      ctx.ui.out(
        table(
          [{ title: 'WORKER' }, { title: 'STATE' }, { title: 'LEASES', align: 'right' }, { title: 'STARTED' }, { title: 'LAST SEEN' }, { title: 'STOPPED' }],
          r.workers.map((w) => [
            `${w.workerId}${w.self ? ' (this daemon)' : ''}`,
            w.state,
            String(w.leases),
            relative(w.startedAt),
            relative(w.seenAt),
            relative(w.stoppedAt),
          ]),
          ctx.ui.columns,
        ),
      );
      return EXIT.ok;
    },
  },

  hosts: {
    summary: 'hosts with work, their limits and politeness state',
    args: '',
    flags: { ...COMMON, limit: { type: 'int', min: 1, max: 10_000, value: 'N', help: 'hosts listed, at most' } },
    async run(ctx, f) {
      const r = await request(ctx, 'hosts/list', { limit: f.limit as number | undefined });
      if (ctx.ui.json) return show(ctx, r);
      if (r.hosts.length === 0) return say(ctx, text`No hosts yet.`);
      ctx.ui.out(
        table(
          [
            { title: 'HOST' },
            { title: 'STATE' },
            { title: 'RUNNING', align: 'right' },
            { title: 'QUEUED', align: 'right' },
            { title: 'DONE', align: 'right' },
            { title: 'ERROR', align: 'right' },
            { title: 'UNTIL' },
            { title: 'REASON', flexible: true },
          ],
          r.hosts.map((h) => [
            h.host,
            h.state,
            `${h.inFlight}/${h.limit}`,
            String(h.queued),
            String(h.done),
            String(h.error),
            relative(h.until),
            h.reason === null ? '' : localTimes(h.reason, Date.now()),
          ]),
          ctx.ui.columns,
        ),
      );
      return EXIT.ok;
    },
  },

  pause: {
    summary: "pause this daemon's scheduler (running jobs finish; no new ones start)",
    args: '',
    flags: COMMON,
    async run(ctx) {
      const r = await request(ctx, 'scheduler/pause', {});
      if (ctx.ui.json) return show(ctx, r);
      return say(ctx, text`Paused: no new jobs start on this daemon. "crawlctl resume" to continue.`);
    },
  },

  resume: {
    summary: "resume this daemon's scheduler",
    args: '',
    flags: COMMON,
    async run(ctx) {
      const r = await request(ctx, 'scheduler/resume', {});
      if (ctx.ui.json) return show(ctx, r);
      return say(ctx, text`Resumed.`);
    },
  },

  stop: {
    summary: 'stop the daemon gracefully and wait until it has',
    args: '',
    flags: COMMON,
    async run(ctx) {
      const client = await ctx.connect();
      const closed = new Promise<void>((resolve) => client.onClose(resolve));
      const r = await client.requestWithin('daemon/shutdown', {}, REQUEST_TIMEOUT_MS);
      if (!ctx.ui.json) ctx.ui.err(text`Stopping: running jobs finish or go back to the queue…`);
      // The daemon ends every connection last of all, once its jobs are handed back.
      await closed;
      if (ctx.ui.json) return show(ctx, r);
      return say(ctx, text`Daemon stopped.`);
    },
  },
};

/** Creates or truncates the export's file, or says why it cannot (a usage error: nothing was written). */
function openOutput(file: string): Promise<fs.WriteStream> {
  return new Promise((resolve, reject) => {
    const stream = fs.createWriteStream(file);
    const fail = (err: NodeJS.ErrnoException) => {
      const why =
        err.code === 'ENOENT' ? 'no such folder' : err.code === 'EISDIR' ? 'it is a folder' : err.code === 'EACCES' ? 'permission denied' : err.message;
      reject(new UsageError(`export: cannot write ${file}: ${why}`));
    };
    stream.once('error', fail);
    stream.once('open', () => {
      stream.off('error', fail);
      resolve(stream);
    });
  });
}

/** `1,234 pages`, `5 links`, `2 broken URLs (3 lines: one per page linking to them)`. */
function exported(what: ExportKind, c: ExportCounts): string {
  const n = (k: number, one: string, many: string) => `${count(k)} ${k === 1 ? one : many}`;
  if (what === 'pages') return n(c.rows, 'page', 'pages');
  if (what === 'links') return n(c.rows, 'link', 'links');
  return `${n(c.urls, 'broken URL', 'broken URLs')} (${n(c.rows, 'line', 'lines')}: one per page linking to them)`;
}

const STEERS = { pause: 'crawl/pause', resume: 'crawl/resume', cancel: 'crawl/cancel' } as const;
type Steer = keyof typeof STEERS;

function isSteer(word: string | undefined): word is Steer {
  return word !== undefined && Object.prototype.hasOwnProperty.call(STEERS, word);
}

/** `crawl pause|resume|cancel <crawlId>`. */
async function steer(ctx: Context, verb: Steer, f: Record<string, unknown>, ids: string[]): Promise<number> {
  const extra = Object.keys(f).filter((k) => !(k in COMMON));
  if (extra.length) throw new UsageError(`crawl ${verb} takes no ${extra.map((k) => `--${k}`).join(', ')}`);
  if (ids.length !== 1) throw new UsageError(`crawl ${verb} needs one crawl id ("crawlctl crawls" lists them)`);
  const crawlId = ids[0];
  const r = await request(ctx, STEERS[verb], { crawlId });
  if (ctx.ui.json) return show(ctx, r);
  if (verb === 'pause') return say(ctx, text`Paused crawl ${crawlId}: running pages finish, no more start. "crawlctl crawl resume ${crawlId}" to go on.`);
  if (verb === 'resume') return say(ctx, text`Resumed crawl ${crawlId}: ${plural(r.crawl.counts.queued, 'page')} queued.`);
  return say(ctx, text`Cancelled crawl ${crawlId}: ${plural((r as ResultOf<'crawl/cancel'>).cancelled, 'queued page')} skipped.`);
}

type CrawlStart = { method: 'crawl/start'; params: ParamsOf<'crawl/start'> } | { method: 'seeds/start'; params: ParamsOf<'seeds/start'> };

/** A seed file's name (not a URL: those have a scheme), or "-" for one on stdin. */
function isSeedFile(arg: string): boolean {
  return arg === '-' || (!arg.includes('://') && arg.endsWith(SEED_FILE_EXTENSION));
}

/** `--extract FIELD=SPEC` flags as crawl/start's extract; the daemon checks the names and selectors. */
function extractFlags(given: readonly string[]): Record<string, string> {
  const fields = new Map<string, string>();
  for (const g of given) {
    const eq = g.indexOf('=');
    if (eq <= 0) throw new UsageError(`--extract ${g}: give a field name and its selector, as in --extract 'price=span.price'`);
    const name = g.slice(0, eq).trim();
    if (fields.has(name)) throw new UsageError(`--extract ${name}: given twice`);
    // JSON parsers (the daemon's checks among them) drop this key rather than refuse it.
    if (name.replace(/\[\]$/, '') === '__proto__') throw new UsageError(`--extract ${name}: not a field name`);
    fields.set(name, g.slice(eq + 1));
  }
  return Object.fromEntries(fields);
}

/** What `crawl` starts: URLs with the flags' options, or a seed file with its own. */
async function crawlStart(f: FlagValues<typeof CRAWL_FLAGS>, args: string[]): Promise<CrawlStart> {
  const file = args.find(isSeedFile);
  if (file === undefined) {
    if (args.length === 0) throw new UsageError('crawl: give seed URLs, a seed file (*.crawl), or "-" to read one from stdin');
    return {
      method: 'crawl/start',
      params: {
        seeds: args,
        name: f.name,
        maxDepth: f['max-depth'],
        maxPages: f['max-pages'],
        scope: f.scope as Scope | undefined,
        include: f.include,
        exclude: f.exclude,
        followNofollow: f['follow-nofollow'],
        storeBodies: f['store-bodies'],
        addresses: f.addresses as AddressPolicy | undefined,
        extract: f.extract && extractFlags(f.extract),
        warc: f.warc,
        sitemaps: f.sitemaps,
        // From here: the daemon's own folder may be another.
        handler: f.handler === undefined ? undefined : path.resolve(f.handler),
        handlerTimeout: f['handler-timeout'],
      },
    };
  }
  if (args.length > 1) throw new UsageError(`crawl: a seed file goes alone (got "${file}" and ${plural(args.length - 1, 'more argument')})`);
  // The file alone says what its crawl does, as when the editor starts it: a flag is refused, not merged.
  const options = Object.keys(CRAWL_OPTION_FLAGS).filter((k) => k in f);
  if (options.length) {
    throw new UsageError(
      `crawl: ${options.map((k) => `--${k}`).join(', ')}: a seed file sets its crawl's options in its own lines (such as "max-depth: 2"); edit the file, or give the URLs instead`,
    );
  }
  if (file === '-') {
    // Nothing to remember it by: started as its URLs and options.
    // Loaded only here: its schemas (zod) are a third of the start-up of every other command.
    const { parseSeedFile, startParams, whyNotStartable } = require('../daemon/seeds/file') as typeof import('../daemon/seeds/file');
    const parsed = parseSeedFile(await stdinText());
    const params = startParams(parsed);
    if (!params) throw new CommandError(`the seed file on stdin cannot start a crawl: ${whyNotStartable(parsed)}`, EXIT.failed);
    // Its handler is named from here, as its URLs are read here.
    if (params.handler !== undefined) params.handler = path.resolve(params.handler);
    return { method: 'crawl/start', params };
  }
  let content: string;
  try {
    content = await fs.promises.readFile(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UsageError(`crawl: cannot read the seed file ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }
  // Named by its file: URI, as the editor names it, so the file's hints follow this crawl there too.
  return { method: 'seeds/start', params: { uri: pathToFileURL(path.resolve(file)).href, text: content } };
}

/**
 * Shows a crawl's progress until it ends, then its summary (with --json: `result` with the crawl
 * and its failed pages), and says how it went: 1 when it was cancelled or, unless failures are
 * allowed, a page ended in error; 130 on Ctrl-C.
 */
async function follow(ctx: Context, client: DaemonClient, crawlId: string, allowFailures: boolean, result: object): Promise<number> {
  const end = await watchCrawl(client, crawlId, ctx.ui, ctx.interrupted);
  if (end.how !== 'ended') {
    if (end.how === 'daemon-gone') throw new CommandError('the daemon stopped before the crawl finished', EXIT.failed);
    ctx.ui.clearProgress();
    return EXIT.interrupted;
  }
  const c = end.crawl;
  const outcome = await crawlOutcome(client, crawlId);
  const warc = c.options.warc ? (await client.requestWithin('crawl/get', { crawlId }, REQUEST_TIMEOUT_MS)).warc : [];
  if (ctx.ui.json) ctx.ui.result({ ...result, crawl: c, failed: outcome.failed, ...(c.options.warc && { warc }) });
  else {
    ctx.ui.out(summary(c, outcome.failed, outcome.skipped, ctx.ui.columns));
    if (c.options.warc)
      ctx.ui.out(text`WARC: ${warc.length === 0 ? 'no file (nothing fetched)' : warc.map((w) => `${w.path} (${bytes(w.bytes)})`).join(', ')}`);
  }
  if (c.state === 'cancelled') return EXIT.failed;
  if (c.counts.error > 0 && !allowFailures) {
    if (!ctx.ui.json) ctx.ui.err(text`${plural(c.counts.error, 'page')} ended in error: exit ${EXIT.failed} (--allow-failures exits 0 all the same).`);
    return EXIT.failed;
  }
  // A check that checked nothing (every seed skipped: robots.txt, a redirect off the site, the address policy)
  // exits 0 as issue 14's contract has it (done or skipped), but not in silence.
  if (c.counts.skipped > 0 && c.pages <= c.sitemapsRead && !ctx.ui.json) {
    ctx.ui.err(text`warning: no page was fetched, every one was skipped (the summary says why): nothing was checked.`);
  }
  return EXIT.ok;
}

async function startOwnDaemon(ctx: Context, f: FlagValues<typeof CRAWL_FLAGS>): Promise<Daemon> {
  // Loaded only here: the other commands need no crawler in their process.
  const { Daemon } = require('../daemon/daemon') as typeof import('../daemon/daemon');
  const options = daemonOptions({ ...f, 'state-dir': ctx.paths.stateDir, socket: ctx.paths.socket, db: f.db });
  try {
    return await Daemon.start({
      ...options,
      lsp: null,
      socketInUse: 'refuse',
      // Its notes would only break the progress bar; its warnings and errors are shown above it.
      log: (level, message) => {
        if (level === 'error' || level === 'warn') ctx.ui.err(text`daemon ${level}: ${message}`);
      },
    });
  } catch (err) {
    throw new CommandError(`could not start a daemon for this crawl: ${(err as Error).message}`, EXIT.failed);
  }
}

async function request<M extends Method>(ctx: Context, method: M, params: ParamsOf<M>): Promise<ResultOf<M>> {
  const client = await ctx.connect();
  try {
    return await client.requestWithin(method, params, REQUEST_TIMEOUT_MS);
  } finally {
    client.close();
  }
}

function show(ctx: Context, value: unknown): number {
  ctx.ui.result(value);
  return EXIT.ok;
}

function say(ctx: Context, message: Text): number {
  ctx.ui.out(message);
  return EXIT.ok;
}

function jobTable(jobs: Job[], columns?: number): Text {
  return table(
    [
      { title: 'ID', align: 'right' },
      { title: 'STATE' },
      { title: 'TRIES', align: 'right' },
      { title: 'HOST' },
      { title: 'URL', flexible: true },
      { title: 'NOTE', flexible: true },
    ],
    jobs.map((j) => [
      String(j.id),
      j.state,
      `${j.attempts}/${j.maxAttempts}`,
      j.host,
      j.url,
      j.lastError ??
        (j.result?.status
          ? `HTTP ${j.result.status}${j.result.title ? ` · ${j.result.title}` : ''}`
          : j.workerId && j.state === 'in_progress'
            ? j.workerId
            : ''),
    ]),
    columns,
  );
}

/** A reason only failed jobs have: with another --state, nothing would match (the daemon refuses it too). */
function failedOnly(command: string, f: Record<string, unknown>): void {
  if (f.reason !== undefined && f.state !== undefined && f.state !== 'error') {
    throw new UsageError(`${command}: --reason lists failed jobs: give --state error, or no --state (got ${f.state as string})`);
  }
}

function flagsAgain(f: Record<string, unknown>): Text {
  return ['state', 'host', 'crawl', 'search', 'reason', 'limit']
    .filter((k) => f[k] !== undefined)
    .reduce((again, k) => text`${again} --${k} ${shellWord(String(f[k]))}`, text``);
}

async function stdinText(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function stdinLines(): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of readline.createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    const t = line.trim();
    if (t && !t.startsWith('#')) lines.push(t);
  }
  return lines;
}

/**
 * `crawlctl`: the command line of Crawl Orchestrator. Every command but `daemon` talks to a running
 * daemon over its Unix socket, found from --state-dir (default .crawl) or --socket. Tables for
 * people, `--json` for scripts, and exit codes scripts can trust (see ./exit.ts).
 */
import * as readline from 'node:readline';
import { DaemonClient, NoDaemonError, RemoteError } from '../daemon/client';
import { UsageError, flagHelp, parseFlags, type FlagSpecs, type FlagValues } from '../daemon/args';
import type { Daemon } from '../daemon/daemon';
import { DAEMON_USAGE, daemonCommand } from '../daemon/main';
import { PATH_FLAGS, WORKER_FLAGS, daemonOptions } from '../daemon/options';
import { redactUrl } from '../core/db-url';
import { locateSocket, type PathFlags } from '../daemon/paths';
import { ADDRESS_POLICIES, FINISHED_STATES, JOB_STATES, SCOPES, type AddressPolicy, type Job, type Method, type ParamsOf, type ResultOf } from '../protocol';
import { VERSION } from '../version';
import { EXIT } from './exit';
import { bytes, fields, plural, relative, table, text, type Text } from './format';
import { Ui } from './ui';
import { crawlOutcome, summary, watchCrawl } from './watch';

const COMMON = {
  'state-dir': PATH_FLAGS['state-dir'],
  socket: PATH_FLAGS.socket,
  json: { type: 'boolean', help: 'print the result as JSON, for scripts' },
  help: { type: 'boolean', help: 'show help for the command' },
} as const satisfies FlagSpecs;

const CRAWL_FLAGS = {
  ...COMMON,
  'max-depth': { type: 'int', min: 0, max: 1000, value: 'N', help: 'links followed from the seeds, at most (default: the daemon\'s --default-max-depth)' },
  'max-pages': { type: 'int', min: 1, max: 100_000_000, value: 'N', help: 'pages in the crawl, at most (default 10000)' },
  scope: { type: 'string', choices: SCOPES, value: 'S', help: 'which links to follow: host, domain or any (default: the daemon\'s --default-scope)' },
  include: { type: 'list', value: 'PATTERN', help: 'only URLs matching this glob (or /regex/); repeatable' },
  exclude: { type: 'list', value: 'PATTERN', help: 'no URLs matching this glob (or /regex/); repeatable' },
  name: { type: 'string', value: 'TEXT', help: 'a name for the crawl' },
  'follow-nofollow': { type: 'boolean', help: 'follow rel=nofollow links too' },
  'store-bodies': { type: 'boolean', help: 'keep the pages\' bodies in the state folder' },
  addresses: {
    type: 'string', choices: ADDRESS_POLICIES, value: 'A',
    help: 'addresses the crawl may connect to: public, private (loopback, private, link-local) or any (default: the daemon\'s --default-addresses, else the kind of the seeds)',
  },
  wait: { type: 'boolean', help: 'show progress until the crawl ends, then a summary; runs a daemon if none is running' },
  db: PATH_FLAGS.db,
  ...WORKER_FLAGS,
} as const satisfies FlagSpecs;

/** Long enough for the biggest requeue; short enough that a hung daemon does not hang scripts. */
const REQUEST_TIMEOUT_MS = 60_000;
/** On Ctrl-C, running pages get this long before they go back to the queue. */
const INTERRUPT_STOP_DEADLINE_MS = 1_000;

interface Command {
  summary: string;
  args: string;
  flags: FlagSpecs;
  run(ctx: Context, flags: Record<string, unknown>, positionals: string[]): Promise<number>;
}

interface Context {
  ui: Ui;
  paths: PathFlags;
  /** Resolves on Ctrl-C. */
  interrupted: Promise<void>;
  connect(): Promise<DaemonClient>;
}

class CommandError extends Error {
  constructor(message: string, readonly code: number) {
    super(message);
  }
}

const COMMANDS: Record<string, Command> = {
  crawl: {
    summary: 'start a crawl from seed URLs',
    args: '<url...>',
    flags: CRAWL_FLAGS,
    async run(ctx, f: FlagValues<typeof CRAWL_FLAGS>, seeds) {
      if (seeds.length === 0) throw new UsageError('crawl: give at least one seed URL');
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
        ctx.ui.err(text`note: ${[...workerFlags, ...(f.db ? ['db'] : [])].map((k) => `--${k}`).join(', ')} ignored: a daemon is already running; they apply to a daemon this command starts`);
      }
      try {
        const started = await client.requestWithin('crawl/start', {
          seeds, name: f.name, maxDepth: f['max-depth'], maxPages: f['max-pages'], scope: f.scope as (typeof SCOPES)[number] | undefined,
          include: f.include, exclude: f.exclude, followNofollow: f['follow-nofollow'], storeBodies: f['store-bodies'],
          addresses: f.addresses as AddressPolicy | undefined,
        }, REQUEST_TIMEOUT_MS);
        for (const r of started.rejected) ctx.ui.err(text`rejected ${r.url}: ${r.reason}`);
        const partial = started.rejected.length ? EXIT.failed : EXIT.ok;
        if (!f.wait) {
          if (ctx.ui.json) ctx.ui.result(started);
          else ctx.ui.out(text`Started crawl ${started.crawlId}: ${plural(started.enqueued, 'seed')} queued. Follow it with "crawlctl stats" or "crawlctl jobs --crawl ${started.crawlId}".`);
          return partial;
        }
        if (!ctx.ui.json) ctx.ui.err(text`Crawl ${started.crawlId} started${own ? text` on a daemon of its own (${redactUrl(own.paths.db)})` : ''}; Ctrl-C to stop waiting.`);
        const end = await watchCrawl(client, started.crawlId, ctx.ui, ctx.interrupted);
        if (end.how !== 'ended') {
          if (end.how === 'daemon-gone') throw new CommandError('the daemon stopped before the crawl finished', EXIT.failed);
          ctx.ui.clearProgress();
          stopReason = 'interrupted';
          stopDeadline = INTERRUPT_STOP_DEADLINE_MS;
          ctx.ui.err(own ? text`Interrupted: stopping; running pages go back to the queue.` : text`Interrupted. The crawl goes on in the daemon: "crawlctl crawls" shows it.`);
          return EXIT.interrupted;
        }
        const outcome = await crawlOutcome(client, started.crawlId);
        if (ctx.ui.json) ctx.ui.result({ ...started, crawl: end.crawl, failed: outcome.failed });
        else ctx.ui.out(summary(end.crawl, outcome.failed, outcome.skipped, ctx.ui.columns));
        return end.crawl.state === 'cancelled' ? EXIT.failed : partial;
      } finally {
        client.close();
        if (own) await own.stop(stopReason, stopDeadline);
      }
    },
  },

  crawls: {
    summary: 'list crawls',
    args: '',
    flags: COMMON,
    async run(ctx) {
      const r = await request(ctx, 'crawl/list', {});
      if (ctx.ui.json) return show(ctx, r);
      if (r.crawls.length === 0) return say(ctx, text`No crawls yet. Start one with "crawlctl crawl <url>".`);
      ctx.ui.out(table(
        [{ title: 'CRAWL' }, { title: 'STATE' }, { title: 'PAGES', align: 'right' }, { title: 'DONE', align: 'right' }, { title: 'ERROR', align: 'right' },
          { title: 'QUEUED', align: 'right' }, { title: 'STARTED' }, { title: 'NAME / SEEDS', flexible: true }],
        r.crawls.map((c) => [c.crawlId, c.state, String(c.pages), String(c.counts.done), String(c.counts.error), String(c.counts.queued),
          relative(c.createdAt), c.name ?? c.seeds.join(' ')]),
        ctx.ui.columns,
      ));
      return EXIT.ok;
    },
  },

  enqueue: {
    summary: 'enqueue standalone URLs (or "-" to read them from stdin, one a line)',
    args: '<url...|->',
    flags: {
      ...COMMON,
      crawl: { type: 'string', value: 'ID', help: 'add them to this crawl' },
      priority: { type: 'int', min: -1000, max: 1000, value: 'N', help: 'higher runs first (default 0)' },
      'max-attempts': { type: 'int', min: 1, max: 100, value: 'N', help: 'attempts before a job fails for good' },
    },
    async run(ctx, f, args) {
      const urls = args.length === 1 && args[0] === '-' ? await stdinLines() : args;
      if (urls.length === 0) throw new UsageError('enqueue: give at least one URL (or "-" and URLs on stdin)');
      const r = await request(ctx, 'jobs/enqueue', {
        urls, crawlId: f.crawl as string | undefined, priority: f.priority as number | undefined, maxAttempts: f['max-attempts'] as number | undefined,
      });
      for (const x of r.rejected) ctx.ui.err(text`rejected ${x.url}: ${x.reason}`);
      if (ctx.ui.json) ctx.ui.result(r);
      else ctx.ui.out(text`Enqueued ${plural(r.enqueued, 'job')}${r.duplicates ? `; ${plural(r.duplicates, 'duplicate')} left out` : ''}${r.rejected.length ? `; ${r.rejected.length} rejected` : ''}.`);
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
        const [s, sched] = await Promise.all([client.requestWithin('queue/stats', {}, REQUEST_TIMEOUT_MS), client.requestWithin('scheduler/status', {}, REQUEST_TIMEOUT_MS)]);
        if (ctx.ui.json) return show(ctx, s);
        ctx.ui.out(table([{ title: 'STATE' }, { title: 'JOBS', align: 'right' }], [
          ...JOB_STATES.map((st) => [st, String(s[st])]), ['total', String(s.total)],
        ]));
        ctx.ui.out(text`\n${s.jobsPerSecond.toFixed(1)} jobs/s · this daemon: ${sched.running}/${sched.maxWorkers} running${sched.paused ? ', paused' : ''} (worker ${sched.workerId})`);
        if (sched.idleReason) ctx.ui.out(text`${sched.idleReason}`);
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
      limit: { type: 'int', min: 1, max: 1000, value: 'N', help: 'jobs per page (default 50)' },
      cursor: { type: 'string', value: 'C', help: 'the page after this cursor (printed under a full page)' },
      all: { type: 'boolean', help: 'every page, not just the first' },
    },
    async run(ctx, f) {
      const client = await ctx.connect();
      try {
        const filter = {
          state: f.state as Job['state'] | undefined, host: f.host as string | undefined, crawlId: f.crawl as string | undefined,
          limit: (f.limit as number | undefined) ?? 50,
        };
        let page = await client.requestWithin('jobs/list', { ...filter, cursor: (f.cursor as string | undefined) ?? null }, REQUEST_TIMEOUT_MS);
        const jobs = [...page.jobs];
        while (f.all && page.nextCursor) {
          page = await client.requestWithin('jobs/list', { ...filter, limit: 1000, cursor: page.nextCursor }, REQUEST_TIMEOUT_MS);
          jobs.push(...page.jobs);
        }
        if (ctx.ui.json) return show(ctx, { jobs, nextCursor: page.nextCursor });
        if (jobs.length === 0) return say(ctx, text`No jobs match.`);
        ctx.ui.out(jobTable(jobs, ctx.ui.columns));
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
      const r = await request(ctx, 'jobs/get', { id: Number(args[0]) });
      if (ctx.ui.json) return show(ctx, r);
      const j = r.job;
      const rows: [string, string][] = [
        ['id', String(j.id)], ['url', j.url], ['host', j.host], ['state', j.state], ['crawl', j.crawlId ?? '(standalone)'],
        ['depth', j.depth === null ? '' : String(j.depth)], ['priority', String(j.priority)], ['attempts', `${j.attempts} of ${j.maxAttempts}`],
        ['worker', j.workerId ?? ''],
      ];
      if (j.state === 'in_progress') rows.push(['lease', `expires ${relative(j.leaseExpiresAt)}, heartbeat ${relative(j.heartbeatAt)}`]);
      if (j.result) {
        const x = j.result;
        rows.push(['result', [x.status !== null ? `HTTP ${x.status}` : '', x.contentType ?? '', bytes(x.bytes), x.durationMs !== null ? `${x.durationMs} ms` : ''].filter(Boolean).join(' · ')]);
        if (x.title) rows.push(['title', x.title]);
        if (x.finalUrl && x.finalUrl !== j.url) rows.push(['final url', x.finalUrl]);
      }
      if (j.lastError) rows.push([j.state === 'error' ? 'error' : 'note', j.lastError]);
      rows.push(['created', j.createdAt], ['updated', j.updatedAt]);
      ctx.ui.out(fields(rows));
      ctx.ui.out(text`\n${table([{ title: 'AT' }, { title: 'EVENT' }, { title: 'WORKER' }, { title: 'DETAIL', flexible: true }],
        r.events.map((e) => [e.at, e.type, e.workerId ?? '', e.detail ?? '']), ctx.ui.columns)}`);
      return EXIT.ok;
    },
  },

  requeue: {
    summary: 'put finished jobs back in the queue: by id, or every job in a state',
    args: '(<id...> | --state STATE)',
    flags: {
      ...COMMON,
      state: { type: 'string', choices: FINISHED_STATES, value: 'STATE', help: 'every job in this state (error, skipped or done)' },
      host: { type: 'string', value: 'HOST', help: 'only jobs of this host' },
      crawl: { type: 'string', value: 'ID', help: 'only jobs of this crawl' },
    },
    async run(ctx, f, args) {
      const bad = args.find((a) => !/^\d{1,15}$/.test(a) || Number(a) < 1);
      if (bad !== undefined) throw new UsageError(`requeue: "${bad}" is not a job id`);
      if (args.length === 0 && !f.state) throw new UsageError('requeue: give job ids, or --state (e.g. --state error)');
      const r = await request(ctx, 'jobs/requeue', {
        ids: args.length ? args.map(Number) : undefined, state: f.state as (typeof FINISHED_STATES)[number] | undefined,
        host: f.host as string | undefined, crawlId: f.crawl as string | undefined,
      });
      if (ctx.ui.json) {
        show(ctx, r);
      } else {
        const of = args.length ? ` of ${args.length}` : '';
        say(ctx, text`Requeued ${plural(r.requeued, 'job')}${of}.`);
      }
      // Ids that did not go back (no such job, or not in the state asked for): part of it was refused.
      if (args.length > 0 && r.requeued < args.length) {
        throw new CommandError(`${args.length - r.requeued} of the ids given were not requeued: no such job, or not ${f.state ? `in state ${String(f.state)}` : 'finished or running'}`, EXIT.failed);
      }
      return EXIT.ok;
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
      ctx.ui.out(table(
        [{ title: 'JOB', align: 'right' }, { title: 'WORKER' }, { title: 'LEASED' }, { title: 'EXPIRES' }, { title: 'HEARTBEAT' }, { title: 'URL', flexible: true }],
        r.leases.map((l) => [String(l.jobId), l.workerId, relative(l.leasedAt), relative(l.expiresAt), relative(l.heartbeatAt), l.url]),
        ctx.ui.columns,
      ));
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
      ctx.ui.out(table(
        [{ title: 'HOST' }, { title: 'STATE' }, { title: 'RUNNING', align: 'right' }, { title: 'QUEUED', align: 'right' }, { title: 'DONE', align: 'right' },
          { title: 'ERROR', align: 'right' }, { title: 'UNTIL' }, { title: 'REASON', flexible: true }],
        r.hosts.map((h) => [h.host, h.state, `${h.inFlight}/${h.limit}`, String(h.queued), String(h.done), String(h.error), relative(h.until), h.reason ?? '']),
        ctx.ui.columns,
      ));
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

async function startOwnDaemon(ctx: Context, f: FlagValues<typeof CRAWL_FLAGS>): Promise<Daemon> {
  // Loaded only here: the other commands need no crawler in their process.
  const { Daemon } = require('../daemon/daemon') as typeof import('../daemon/daemon');
  const options = daemonOptions({ ...f, 'state-dir': ctx.paths.stateDir, socket: ctx.paths.socket, db: f.db });
  try {
    return await Daemon.start({
      ...options, lsp: null, socketInUse: 'refuse',
      // Its notes would only break the progress bar; its warnings and errors are shown above it.
      log: (level, message) => {
        if (level !== 'info') ctx.ui.err(text`daemon ${level}: ${message}`);
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
    [{ title: 'ID', align: 'right' }, { title: 'STATE' }, { title: 'TRIES', align: 'right' }, { title: 'HOST' }, { title: 'URL', flexible: true }, { title: 'NOTE', flexible: true }],
    jobs.map((j) => [String(j.id), j.state, `${j.attempts}/${j.maxAttempts}`, j.host, j.url,
      j.lastError ?? (j.result?.status ? `HTTP ${j.result.status}${j.result.title ? ` · ${j.result.title}` : ''}` : j.workerId && j.state === 'in_progress' ? j.workerId : '')]),
    columns,
  );
}

function flagsAgain(f: Record<string, unknown>): string {
  return ['state', 'host', 'crawl', 'limit'].filter((k) => f[k] !== undefined).map((k) => ` --${k} ${String(f[k])}`).join('');
}

async function stdinLines(): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of readline.createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    const t = line.trim();
    if (t && !t.startsWith('#')) lines.push(t);
  }
  return lines;
}

function usage(): string {
  const names = Object.keys(COMMANDS);
  const lines: [string, string][] = [
    ['daemon', 'run a daemon in the foreground until SIGTERM or Ctrl-C'],
    ...names.map((n): [string, string] => [`${n} ${COMMANDS[n].args}`, COMMANDS[n].summary]),
  ];
  const w = Math.max(...lines.map(([l]) => l.length));
  return `crawlctl ${VERSION}: run and inspect polite web crawls

Usage: crawlctl <command> [flags]

Commands:
${lines.map(([l, h]) => `  ${l.padEnd(w)}  ${h}`).join('\n')}

Every command takes --state-dir DIR (default .crawl here) or --socket FILE to find the daemon,
--json for machine-readable output and --help for its flags.

A crawl that sets no max depth, scope or addresses (crawl without --max-depth, --scope or
--addresses, a seed file without those lines) takes the daemon's:
  crawlctl daemon --default-max-depth N   links followed from the seeds, 0 to 1000 (default 3)
  crawlctl daemon --default-scope S       host, domain or any (default host)
  crawlctl daemon --default-addresses A   public, private or any (default: the kind of the
                                          crawl's seeds, so a crawl of public sites never
                                          connects to loopback, private or link-local addresses)
"crawlctl daemon --help" lists all of the daemon's flags.

Exit codes: 0 ok · 1 the daemon refused the request or part of it · 2 usage error ·
3 no daemon running · 130 interrupted.`;
}

function commandUsage(name: string): string {
  const c = COMMANDS[name];
  return `Usage: crawlctl ${name}${c.args ? ` ${c.args}` : ''} [flags]\n\n${c.summary}\n\n${flagHelp(c.flags)}`;
}

/** A command line refused before there is a Ui: the words it echoes are the user's, escaped all the same. */
function usageFailure(message: Text): number {
  process.stderr.write(`${message}\n`);
  return EXIT.usage;
}

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    const topic = name === 'help' ? rest[0] : undefined;
    if (topic === 'daemon') process.stdout.write(`${DAEMON_USAGE}\n`);
    else if (topic && Object.prototype.hasOwnProperty.call(COMMANDS, topic)) process.stdout.write(`${commandUsage(topic)}\n`);
    else if (topic) {
      return usageFailure(text`crawlctl help: no command "${topic}"\nRun "crawlctl help" for the list.`);
    } else process.stdout.write(`${usage()}\n`);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === '--version' || name === 'version') {
    process.stdout.write(`${VERSION}\n`);
    return EXIT.ok;
  }
  if (name === 'daemon') return daemonCommand(rest.map((a) => (a === '-h' ? '--help' : a)), 'crawlctl daemon');
  const command = Object.prototype.hasOwnProperty.call(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    return usageFailure(text`crawlctl: unknown command "${name}"\nRun "crawlctl help" for the list.`);
  }
  let flags: Record<string, unknown>;
  let positionals: string[];
  try {
    ({ flags, positionals } = parseFlags(rest.map((a) => (a === '-h' ? '--help' : a)), command.flags, `crawlctl ${name}`));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    return usageFailure(text`crawlctl ${name}: ${err.message.replace(`crawlctl ${name}: `, '')}\nRun "crawlctl ${name} --help" for its flags.`);
  }
  if (flags.help) {
    process.stdout.write(`${commandUsage(name)}\n`);
    return EXIT.ok;
  }
  // `crawlctl jobs error` meant --state error: a word ignored would do something else than asked.
  if (command.args === '' && positionals.length > 0) {
    return usageFailure(text`crawlctl ${name}: takes no arguments (got "${positionals[0]}")\nRun "crawlctl ${name} --help" for its flags.`);
  }

  const ui = new Ui(flags.json === true);
  const paths: PathFlags = { stateDir: flags['state-dir'] as string | undefined, socket: flags.socket as string | undefined };
  let onInterrupt!: () => void;
  const interrupted = new Promise<void>((resolve) => { onInterrupt = resolve; });
  let interrupts = 0;
  const sigint = () => {
    interrupts++;
    if (interrupts > 1) process.exit(EXIT.interrupted);
    onInterrupt();
  };
  process.on('SIGINT', sigint);
  process.on('SIGTERM', sigint);
  const ctx: Context = {
    ui, paths, interrupted,
    connect: () => DaemonClient.connect(locateSocket(paths)),
  };
  try {
    return await Promise.race([
      command.run(ctx, flags, positionals),
      // Commands other than crawl --wait simply end on Ctrl-C.
      name === 'crawl' && flags.wait ? new Promise<never>(() => {}) : interrupted.then(() => EXIT.interrupted),
    ]);
  } catch (err) {
    return report(ui, name, err, paths);
  } finally {
    process.off('SIGINT', sigint);
    process.off('SIGTERM', sigint);
  }
}

function report(ui: Ui, name: string, err: unknown, paths: PathFlags): number {
  ui.clearProgress();
  if (err instanceof UsageError) {
    ui.err(text`crawlctl ${name}: ${err.message.replace(/^\w+: /, '')}`);
    return EXIT.usage;
  }
  if (err instanceof NoDaemonError) {
    const flags = `${paths.stateDir ? ` --state-dir ${paths.stateDir}` : ''}${paths.socket ? ` --socket ${paths.socket}` : ''}`;
    ui.err(text`crawlctl: no daemon is running (nothing answers at ${err.socketPath}).
Start one with "crawlctl daemon${flags}", or open the folder in VS Code with Crawl Orchestrator${name === 'crawl' ? ', or add --wait to run one for this crawl' : ''}.`);
    if (ui.json) ui.result({ error: { code: 'no-daemon', message: err.message } });
    return EXIT.noDaemon;
  }
  if (err instanceof RemoteError) {
    ui.err(text`crawlctl ${name}: ${err.message}`);
    if (ui.json) ui.result({ error: { code: err.code, message: err.message } });
    return EXIT.failed;
  }
  if (err instanceof CommandError) {
    ui.err(text`crawlctl ${name}: ${err.message}`);
    return err.code;
  }
  ui.err(text`crawlctl ${name}: ${err instanceof Error ? err.message : String(err)}`);
  return EXIT.failed;
}

// Run when loaded as the program: directly, or through the package's bin/crawlctl.js.
if (require.main === module || /[\\/]bin[\\/]crawlctl(\.js)?$/.test(require.main?.filename ?? '')) {
  // Output piped into a reader that stopped (`crawlctl jobs --all | head`): stop quietly, as Unix tools do.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(EXIT.ok);
    throw err;
  });
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
    // Open handles (a daemon's timers) must not hold the command open once it is done.
    setImmediate(() => process.exit(code));
  });
}

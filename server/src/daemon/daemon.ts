/**
 * One daemon: the database, the crawl service, the scheduler, the change feed and the method
 * table, served on the Unix socket and, when the editor launched it, over LSP too.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CoreConfig } from '../core/config';
import { validateConfig } from '../core/config';
import { Scheduler, type Logger } from '../core/scheduler';
import { redactUrl } from '../core/db-url';
import type { Queue } from '../core/types';
import { createCrawlService } from '../crawl/crawls';
import type { CrawlService } from '../crawl/service';
import { Params } from './params';
import { atLevel } from './process/log';
import { createMethods, invoke, type CallContext, type DaemonServices, type MethodTable } from './methods';
import { ChangeFeed, type ChangeBatch } from './notify/feed';
import type { DaemonOptions } from './process/options';
import { ensurePrivateDir, prepareStateDir, resolvePaths, writeFileAtomic, type StatePaths } from './process/paths';
import { RateMeter, sampleSteadily } from './notify/rate';
import { SeedMap } from './seeds/map';
import { SocketInUseError } from './transport/socket';
import { SocketThread } from './transport/socket-thread';
import { openStorage, type Storage } from './process/storage';

export interface StartOptions extends DaemonOptions {
  log: Logger;
  /**
   * When the socket is already served by another daemon: refuse to start (headless), or run without
   * the socket (the editor's daemon still serves the editor, as one more worker on the database).
   */
  socketInUse: 'refuse' | 'continue';
}

export class Daemon {
  readonly paths: StatePaths;
  readonly queue: Queue;
  readonly crawls: CrawlService;
  readonly scheduler: Scheduler;
  readonly feed: ChangeFeed;
  readonly seeds: SeedMap;
  readonly services: DaemonServices;
  private readonly methods: MethodTable;
  private socket: SocketThread | null = null;
  private config: CoreConfig;
  private stopPromise: Promise<void> | null = null;
  private readonly rate = new RateMeter();
  private rateTimer: NodeJS.Timeout | null = null;
  private readonly log: Logger;
  private markStopped!: () => void;
  /** Settles once a stop, however asked for, has finished. */
  readonly stopped = new Promise<void>((resolve) => {
    this.markStopped = resolve;
  });

  private constructor(opts: StartOptions, paths: StatePaths, storage: Storage) {
    this.log = atLevel(opts.logLevel, opts.log);
    this.paths = paths;
    this.config = opts.config;
    this.queue = storage.queue;
    try {
      this.crawls = createCrawlService(
        this.queue,
        storage.store,
        {
          bodiesDir: paths.bodiesDir,
          warcDir: paths.warcDir,
          defaultDelayMs: opts.config.perHostDelayMs,
          robots: opts.robots,
          ...(opts.parseThreads !== undefined && { parseThreads: opts.parseThreads }),
          workspaceDir: opts.workspace === null ? null : path.resolve(opts.workspace ?? '.'),
          ...(opts.userAgent !== undefined && { userAgent: opts.userAgent }),
          ...(opts.defaultMaxDepth !== undefined && { defaultMaxDepth: opts.defaultMaxDepth }),
          ...(opts.defaultScope !== undefined && { defaultScope: opts.defaultScope }),
          ...(opts.defaultAddresses !== undefined && { defaultAddresses: opts.defaultAddresses }),
        },
        this.log,
      );
    } catch (err) {
      // The error thrown is what the user must read; a failed close (a PostgreSQL pool) is logged beside it.
      this.queue.close().catch((closeErr: unknown) => this.log('warn', `closing the queue: ${(closeErr as Error).message}`));
      throw err;
    }
    this.scheduler = new Scheduler(this.queue, { crawl: this.crawls.handler }, this.config, this.log);
    this.seeds = new SeedMap(paths.seedFiles, this.log);
    this.feed = new ChangeFeed(this.queue, this.crawls, this.rate, { pollMs: this.config.pollMs }, this.log);
    this.services = {
      queue: this.queue,
      crawls: this.crawls,
      scheduler: this.scheduler,
      rate: this.rate,
      seeds: this.seeds,
      config: () => this.config,
      reconfigure: (change) => {
        const defined = Object.fromEntries(Object.entries(change).filter(([, v]) => v !== undefined));
        this.config = validateConfig({ ...this.config, ...defined });
        this.scheduler.reconfigure({ maxWorkers: this.config.maxWorkers, perHostLimit: this.config.perHostLimit });
        return this.config;
      },
      shutdown: () => void this.stop('asked by a client'),
      schedulerChanged: () => this.feed.resendStats(),
      subscribed: () => this.feed.batchDue(),
      stopping: () => this.stopPromise !== null,
      log: this.log,
    };
    this.methods = createMethods(this.services);
  }

  /** Opens everything and starts serving; throws with a message for the user when it cannot. */
  static async start(opts: StartOptions): Promise<Daemon> {
    const paths = resolvePaths(opts.paths);
    prepareStateDir(paths);
    ensurePrivateDir(paths.bodiesDir, 'the bodies folder');
    const d = new Daemon(opts, paths, await openStorage(paths.db, opts.config));
    try {
      await d.listen(opts.socketInUse);
    } catch (err) {
      await d.close();
      throw err;
    }
    d.feed.on(
      (b) => d.forward(b),
      () => d.socket?.subscribed() ?? false,
    );
    d.scheduler.start();
    d.feed.start();
    d.rateTimer = sampleSteadily(() => d.queue.stats(), d.rate);
    d.log('info', `daemon ${d.scheduler.workerId} started: database ${redactUrl(paths.db)}${d.socket ? `, socket ${d.socket.path}` : ', no socket'}`);
    return d;
  }

  private async listen(socketInUse: StartOptions['socketInUse']): Promise<void> {
    const server = new SocketThread(
      this.paths.socket,
      Object.keys(Params),
      (m, p, call) => this.call(m, p, call),
      this.log,
      this.paths.db,
      () => this.feed.batchDue(),
    );
    try {
      await server.listen();
    } catch (err) {
      if (err instanceof SocketInUseError && socketInUse === 'continue') {
        this.log('warn', `${err.message}; serving the editor only`);
        return;
      }
      throw err;
    }
    this.socket = server;
    if (this.paths.pointerFile) writeFileAtomic(this.paths.pointerFile, `${this.paths.socket}\n`);
  }

  /** The one way into the method table, for both transports. */
  call(method: string, params: unknown, ctx: CallContext): Promise<unknown> {
    return invoke(this.methods, this.services, method, params, ctx);
  }

  /** Notifications to socket subscribers; the LSP transport listens on the feed itself. */
  private forward(batch: ChangeBatch): void {
    if (!this.socket) return;
    if (batch.jobs) this.socket.notify('jobs/changed', batch.jobs);
    if (batch.stats) this.socket.notify('queue/statsChanged', batch.stats);
    for (const c of batch.crawls) this.socket.notify('crawl/changed', c);
  }

  /**
   * Graceful stop: no new connections or leases; running jobs get the deadline, then are handed
   * back to the queue; answers owed are written; the database is closed; the socket file goes.
   */
  stop(reason: string, deadlineMs = this.config.stopDeadlineMs): Promise<void> {
    if (this.stopPromise) return this.stopPromise;
    this.log('info', `stopping (${reason})`);
    this.stopPromise = (async () => {
      try {
        this.socket?.stopAccepting();
        await this.scheduler.stop(deadlineMs);
        await this.close();
        this.log('info', 'stopped');
      } catch (err) {
        // Whatever failed, the process must still be able to exit.
        this.log('error', `stopping failed: ${(err as Error).message}`);
      } finally {
        this.markStopped();
      }
    })();
    return this.stopPromise;
  }

  private async close(): Promise<void> {
    if (this.rateTimer) clearInterval(this.rateTimer);
    this.feed.stop();
    await this.socket?.closeConnections();
    await this.crawls.close().catch((err) => this.log('warn', `closing crawls: ${(err as Error).message}`));
    await this.queue.close();
    if (this.socket && this.paths.pointerFile) {
      try {
        if (fs.readFileSync(this.paths.pointerFile, 'utf8').trim() === this.paths.socket) fs.unlinkSync(this.paths.pointerFile);
      } catch {
        // Already gone.
      }
    }
  }
}

/**
 * The LSP transport (vscode-languageserver) on stdio or the Node IPC channel, for the editor: the
 * method table as custom requests, change notifications to the client once it subscribes, and the
 * seed-file features.
 *
 * The connection is built from the library's transport-neutral core with our own watchdog: the
 * stock node entry exits the process the moment the editor or its stream goes away, which would
 * leave running jobs leased until their TTL ran out. Here every way out is a graceful stop.
 */
import { CodeActionKind, ResponseError, TextDocumentSyncKind, createConnection, type _Connection } from 'vscode-languageserver/lib/common/api';
import {
  IPCMessageReader,
  IPCMessageWriter,
  StreamMessageReader,
  StreamMessageWriter,
  createProtocolConnection,
  type Logger as RpcLogger,
  type MessageReader,
  type MessageWriter,
} from 'vscode-languageserver-protocol/node';
import type { LogLevel, Logger } from '../../core/scheduler';
import { CRAWL_DEFAULTS } from '../../crawl/defaults';
import { Params } from '../params';
import type { Daemon } from '../daemon';
import type { CallContext } from '../methods';
import type { DaemonOptions } from '../process/options';
import { whenGone } from '../process/parent';
import { RpcError } from './rpc';
import { SeedFeatures } from '../seeds/features';
import { VERSION } from '../../version';

/** How long running jobs get to finish when the editor closes: it will not wait for long. */
const EDITOR_STOP_DEADLINE_MS = 1_500;
/** After answering shutdown, how long to wait for the exit notification. */
const EXIT_NOTIFICATION_WAIT_MS = 5_000;

export interface LspServer {
  connection: _Connection;
  features: SeedFeatures;
  /**
   * Settles with the exit code once the daemon has stopped and the editor is done with it: after
   * `shutdown`, the `exit` notification that follows (0), or the editor going away (1 without a
   * shutdown); at once when something else stopped the daemon.
   */
  finished: Promise<number>;
}

/** `flags`: the daemon's crawl defaults as given, which the seed-file option help states. */
export function startLsp(
  daemon: Daemon,
  mode: 'stdio' | 'ipc',
  clientProcessId: number | null,
  flags: Pick<DaemonOptions, 'defaultMaxDepth' | 'defaultScope' | 'defaultAddresses'>,
): LspServer {
  const log = daemon.services.log;
  let reader: MessageReader;
  let writer: MessageWriter;
  if (mode === 'ipc') {
    reader = new IPCMessageReader(process);
    writer = new IPCMessageWriter(process);
  } else {
    reader = new StreamMessageReader(process.stdin);
    writer = new StreamMessageWriter(process.stdout);
  }

  let exitCode: number | null = null;
  let shutdownReceived = false;
  let finish!: (code: number) => void;
  const finished = new Promise<number>((resolve) => {
    finish = resolve;
  });
  const deadline = () => Math.min(EDITOR_STOP_DEADLINE_MS, daemon.services.config().stopDeadlineMs);
  const leave = (code: number, why: string) => {
    exitCode ??= code;
    void daemon.stop(why, deadline()).then(() => finish(exitCode!));
  };
  void daemon.stopped.then(() => {
    if (exitCode !== null) return;
    // Stopped by shutdown: the exit notification is due next, but do not wait on it forever.
    if (shutdownReceived) setTimeout(() => finish(0), EXIT_NOTIFICATION_WAIT_MS).unref();
    else finish(0);
  });
  const watchParent = (pid: number) => whenGone(pid, () => leave(1, `the editor (pid ${pid}) is gone`));
  if (clientProcessId !== null) watchParent(clientProcessId);

  const connection = createConnection((editorConsole) => createProtocolConnection(reader, writer, guardedConsole(editorConsole, log)), {
    get shutdownReceived() {
      return shutdownReceived;
    },
    set shutdownReceived(v: boolean) {
      shutdownReceived = v;
    },
    initialize: (params) => {
      if (clientProcessId === null && typeof params.processId === 'number') watchParent(params.processId);
    },
    exit: (code) => leave(code, 'the editor asked the server to exit'),
  });
  reader.onClose(() => leave(shutdownReceived ? 0 : 1, 'the editor closed the connection'));
  // The IPC reader hears no 'close' from a process; the channel going away is 'disconnect'.
  if (mode === 'ipc') process.once('disconnect', () => leave(shutdownReceived ? 0 : 1, 'the editor closed the connection'));
  reader.onError((err) => log('warn', `LSP read error: ${err.message}`));

  // What the daemon's crawls get, as daemon.ts sets them up (there is no --default-max-pages).
  const defaults = {
    ...CRAWL_DEFAULTS,
    ...(flags.defaultMaxDepth !== undefined && { defaultMaxDepth: flags.defaultMaxDepth }),
    ...(flags.defaultScope !== undefined && { defaultScope: flags.defaultScope }),
    ...(flags.defaultAddresses !== undefined && { defaultAddresses: flags.defaultAddresses }),
  };
  const features = new SeedFeatures(connection, daemon.queue, daemon.crawls, daemon.seeds, log, defaults);
  let subscribed = false;
  const call: CallContext = {
    subscribe: () => {
      subscribed = true;
    },
    documentText: (uri) => features.documents.get(uri)?.getText(),
  };
  for (const method of Object.keys(Params)) {
    // Without params, vscode-jsonrpc passes the cancellation token alone: params are then undefined.
    connection.onRequest(method, async (...args: unknown[]) => {
      try {
        return await daemon.call(method, args.length > 1 ? args[0] : undefined, call);
      } catch (err) {
        const e = err as RpcError;
        throw new ResponseError(e.code, e.message, e.data);
      }
    });
  }
  // A send fails when the editor has gone mid-batch (a broken pipe, a closed IPC channel): the
  // reader's close stops the daemon; the failure is only noted, never left to reject unhandled. A
  // connection already closed by an earlier failed write throws at once rather than reject.
  const notify = (method: string, params: unknown) => {
    const notSent = (err: unknown) => log('debug', `${method} not sent to the editor: ${(err as Error).message}`);
    try {
      connection.sendNotification(method, params).catch(notSent);
    } catch (err) {
      notSent(err);
    }
  };
  daemon.feed.on((batch) => {
    if (batch.jobs) features.jobsChanged(batch.jobs.truncated ? null : batch.jobs.changes.map((c) => c.id));
    features.crawlsChanged(batch.crawls.map((c) => c.crawl));
    if (!subscribed) return;
    if (batch.jobs) notify('jobs/changed', batch.jobs);
    if (batch.stats) notify('queue/statsChanged', batch.stats);
    for (const c of batch.crawls) notify('crawl/changed', c);
  });

  connection.onInitialize((params) => {
    features.setCapabilities(params.capabilities);
    return {
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Incremental,
        hoverProvider: true,
        completionProvider: { triggerCharacters: [':'] },
        codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
        codeLensProvider: { resolveProvider: false },
        inlayHintProvider: { resolveProvider: false },
        documentLinkProvider: { resolveProvider: false },
      },
      serverInfo: { name: 'crawld', version: VERSION },
    };
  });
  // Running jobs are handed back before the answer, so the editor may exit right after it.
  connection.onShutdown(() => daemon.stop('the editor is shutting down', deadline()));
  void daemon.stopped.then(() => features.close());

  features.listen();
  connection.listen();
  return { connection, features, finished };
}

/**
 * The library reports protocol trouble (a response it could not send, a malformed message) on the
 * editor's console, from promise handlers of its own. Once the connection has closed, that report
 * throws, and the rejection went unhandled: what the console cannot take goes to the log instead.
 */
function guardedConsole(editor: RpcLogger, log: Logger): RpcLogger {
  const guard = (level: LogLevel, report: (message: string) => void) => (message: string) => {
    try {
      report(message);
    } catch {
      log(level, `LSP: ${message}`);
    }
  };
  return {
    error: guard('warn', (m) => editor.error(m)),
    warn: guard('warn', (m) => editor.warn(m)),
    info: guard('info', (m) => editor.info(m)),
    log: guard('debug', (m) => editor.log(m)),
  };
}

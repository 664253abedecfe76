/**
 * What the views and commands know of the daemon: its status, in words, and a typed request.
 * Kept apart from the language client so the views' logic loads (and is tested) without it.
 */
import type { Method, ParamsOf, ResultOf } from '../../server/src/protocol';

export type DaemonStatus =
  | { kind: 'untrusted' }
  | { kind: 'noFolder' }
  | { kind: 'noRuntime'; message: string }
  | { kind: 'starting' }
  | { kind: 'running'; stateDir: string; runtime: string }
  | { kind: 'stopped' }
  | { kind: 'failed'; message: string };

/** What the views and commands need of the daemon; the tests stand in for it. */
export interface DaemonApi {
  request<M extends Method>(method: M, params: ParamsOf<M>): Promise<ResultOf<M>>;
}

/** Thrown by `request` when no daemon answers; its message says why, for the notification. */
export class DaemonUnavailable extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'DaemonUnavailable';
  }
}

/** One sentence for each status: the status bar, the welcome view and refused commands use it. */
export function describeStatus(status: DaemonStatus): string {
  switch (status.kind) {
    case 'untrusted':
      return 'This workspace is not trusted, so Crawl Orchestrator starts no daemon: it would run with your permissions, fetch from the network and run the page handlers its seed files name. Trust the workspace to use it.';
    case 'noFolder':
      return 'Open a folder (or set crawlOrchestrator.stateDir to an absolute path) to give the crawl queue a home.';
    case 'noRuntime':
      return status.message;
    case 'starting':
      return 'The Crawl Orchestrator daemon is starting.';
    case 'running':
      return `The daemon is running on ${status.stateDir}.`;
    case 'stopped':
      return 'The Crawl Orchestrator daemon is stopped.';
    case 'failed':
      return status.message;
  }
}

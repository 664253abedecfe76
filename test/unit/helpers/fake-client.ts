/**
 * The extension's daemon manager (client/src/daemon.ts) against recorders, installed on import:
 * child_process functions that record what would start (the runtime probe answered as a Node.js
 * that loads the addon would answer), and a fake language client that records its start and its
 * requests and lets a test move its state as vscode-languageclient would. Import it before the
 * client modules; `restoreProcesses` puts child_process back.
 */

/** Every process the extension tried to start, and every language client it made and started. */
export const started: string[] = [];

// The module object itself (an `import *` would be a read-only copy), as the client reads it at each call.
const cp = require('node:child_process') as Record<string, unknown>;
const saved = Object.fromEntries(['spawn', 'fork', 'exec', 'execFile', 'spawnSync', 'execSync', 'execFileSync'].map((k) => [k, cp[k]]));
for (const name of Object.keys(saved)) {
  cp[name] = (...args: unknown[]) => {
    started.push(`${name} ${String(args[0])}`);
    const callback = args.find((a): a is (...r: unknown[]) => void => typeof a === 'function');
    callback?.(null, `${JSON.stringify({ version: 'v22.12.0', electron: null })}\n`, '');
    return { on() {}, once() {}, kill() {} };
  };
}

export function restoreProcesses(): void {
  Object.assign(cp, saved);
}

export const State = { Stopped: 1, Starting: 3, Running: 2 } as const;

/** The language clients made, in order. */
export const clients: FakeLanguageClient[] = [];

export class FakeLanguageClient {
  readonly requests: { method: string; params: unknown }[] = [];
  private readonly stateListeners: ((e: { oldState: number; newState: number }) => void)[] = [];

  constructor(id: string) {
    started.push(`language client ${id}`);
    clients.push(this);
  }
  onNotification() {
    return { dispose() {} };
  }
  onDidChangeState(listener: (e: { oldState: number; newState: number }) => void) {
    this.stateListeners.push(listener);
    return { dispose() {} };
  }
  async start() {
    started.push('language client start');
  }
  async sendRequest(method: string, params: unknown) {
    this.requests.push({ method, params });
    return {};
  }
  /** The client's state moves (a crash restart: Starting, then Running). */
  setState(newState: number) {
    for (const l of this.stateListeners) l({ oldState: 0, newState });
  }
  async dispose() {}
  error() {}
}

const clientModule = require.resolve('vscode-languageclient/node');
require.cache[clientModule] = {
  id: clientModule,
  filename: clientModule,
  loaded: true,
  exports: {
    LanguageClient: FakeLanguageClient,
    CloseAction: { DoNotRestart: 1, Restart: 2 },
    ErrorAction: { Continue: 1, Shutdown: 2 },
    RevealOutputChannelOn: { Never: 4 },
    State,
    TransportKind: { stdio: 0, ipc: 1 },
  },
} as unknown as NodeModule;

export const channel = { name: 'log', append() {}, appendLine() {}, replace() {}, clear() {}, show() {}, hide() {}, dispose() {} };

/**
 * CPU profiles of one crawl for the editor section (BENCH_EDITOR_PROF=<dir>): the workbench's
 * renderer through Chromium's DevTools protocol, and Node processes that were started without an
 * inspector (the crawl daemon, the extension host) through their own: SIGUSR1 opens a process's
 * inspector on 127.0.0.1:9229, where an in-process inspector session is started that profiles the
 * process, and the inspector is closed again (so the next process can have the port). Stopping
 * opens it once more to stop that session and write the profile. Plus a summary of a profile: the
 * functions with the most self time.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Page } from 'playwright-core';
import { WebSocket } from 'undici';

const INSPECTOR = 'http://127.0.0.1:9229';
const SAMPLING_US = 1_000;

export interface Profiler {
  /** Stops, writes `<dir>/<name>.cpuprofile` and returns its path. */
  stop(): Promise<string>;
}

export async function profileRenderer(page: Page, dir: string, name: string): Promise<Profiler> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: SAMPLING_US });
  await cdp.send('Profiler.start');
  return {
    async stop() {
      const { profile } = await cdp.send('Profiler.stop');
      await cdp.detach().catch(() => undefined);
      const file = path.join(dir, `${name}.cpuprofile`);
      fs.writeFileSync(file, JSON.stringify(profile));
      return file;
    },
  };
}

/** A minimal DevTools protocol client over the inspector's WebSocket. */
class Inspector {
  private nextId = 1;
  private readonly pending = new Map<number, (msg: { result?: unknown; error?: { message: string } }) => void>();
  private constructor(private readonly ws: WebSocket) {
    ws.addEventListener('message', (ev) => {
      const msg = JSON.parse(String(ev.data)) as { id?: number; result?: unknown; error?: { message: string } };
      if (msg.id !== undefined) this.pending.get(msg.id)?.(msg);
    });
  }

  /** SIGUSR1 to `pid`, then the WebSocket of the inspector it opened. */
  static async open(pid: number): Promise<Inspector> {
    if (await answers()) throw new Error(`${INSPECTOR} is taken by another process: cannot profile ${pid}`);
    process.kill(pid, 'SIGUSR1');
    const deadline = Date.now() + 10_000;
    let url: string | undefined;
    while (!url) {
      if (Date.now() > deadline) throw new Error(`process ${pid} opened no inspector on ${INSPECTOR}`);
      await sleep(100);
      const list = await fetch(`${INSPECTOR}/json/list`)
        .then((r) => r.json() as Promise<{ webSocketDebuggerUrl: string }[]>)
        .catch(() => []);
      url = list[0]?.webSocketDebuggerUrl;
    }
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener('open', () => resolve(), { once: true });
      ws.addEventListener('error', () => reject(new Error(`could not connect to ${url}`)), { once: true });
    });
    return new Inspector(ws);
  }

  /** Evaluates `expression` in the process, awaiting a promise it returns. */
  async evaluate(expression: string, timeoutMs = 30_000): Promise<unknown> {
    const id = this.nextId++;
    const reply = new Promise<{ result?: unknown; error?: { message: string } }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to Runtime.evaluate within ${timeoutMs} ms`)), timeoutMs);
      this.pending.set(id, (msg) => {
        clearTimeout(timer);
        resolve(msg);
      });
    });
    this.ws.send(JSON.stringify({ id, method: 'Runtime.evaluate', params: { expression, awaitPromise: true, returnByValue: true } }));
    const msg = await reply;
    const result = msg.result as { result?: { value?: unknown }; exceptionDetails?: { text: string; exception?: { description?: string } } } | undefined;
    if (msg.error) throw new Error(msg.error.message);
    if (result?.exceptionDetails) throw new Error(result.exceptionDetails.exception?.description ?? result.exceptionDetails.text);
    return result?.result?.value;
  }

  /** Closes the process's inspector (and with it this connection), freeing the port. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.ws.addEventListener('close', () => resolve(), { once: true }));
    this.ws.send(
      JSON.stringify({
        id: this.nextId++,
        method: 'Runtime.evaluate',
        params: { expression: 'setImmediate(() => process.getBuiltinModule("node:inspector").close()), 0' },
      }),
    );
    await Promise.race([closed, sleep(5_000)]);
    this.ws.close();
    const deadline = Date.now() + 5_000;
    while ((await answers()) && Date.now() < deadline) await sleep(100);
  }
}

async function answers(): Promise<boolean> {
  return fetch(`${INSPECTOR}/json/version`, { signal: AbortSignal.timeout(1_000) }).then(
    () => true,
    () => false,
  );
}

const GLOBAL = '__crawlBenchProfiler';

export async function profileNode(pid: number, dir: string, name: string): Promise<Profiler> {
  const inspector = await Inspector.open(pid);
  try {
    await inspector.evaluate(`new Promise((resolve, reject) => {
      const { Session } = process.getBuiltinModule('node:inspector');
      const s = new Session();
      s.connect();
      globalThis.${GLOBAL} = s;
      s.post('Profiler.enable', () => s.post('Profiler.setSamplingInterval', { interval: ${SAMPLING_US} }, () =>
        s.post('Profiler.start', (err) => (err ? reject(err) : resolve(true)))));
    })`);
  } finally {
    await inspector.close();
  }
  return {
    async stop() {
      const file = path.join(dir, `${name}.cpuprofile`);
      const again = await Inspector.open(pid);
      try {
        await again.evaluate(
          `new Promise((resolve, reject) => {
          const s = globalThis.${GLOBAL};
          s.post('Profiler.stop', (err, r) => {
            if (err) return reject(err);
            process.getBuiltinModule('node:fs').writeFileSync(${JSON.stringify(file)}, JSON.stringify(r.profile));
            s.disconnect();
            delete globalThis.${GLOBAL};
            resolve(true);
          });
        })`,
          60_000,
        );
      } finally {
        await again.close();
      }
      return file;
    },
  };
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/**
 * The functions with the most self time, as "name (file:line) ms", and the share of the profile's
 * time that was not idle (neither "(idle)" nor "(program)" waiting).
 */
export function topSelfTime(file: string, top = 12): { busyMs: number; totalMs: number; top: string[] } {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byNode = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let busy = 0;
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const us = p.timeDeltas[i + 1] ?? 0;
    const n = byNode.get(p.samples[i]);
    if (!n) continue;
    total += us;
    const f = n.callFrame;
    if (f.functionName === '(idle)') continue;
    busy += us;
    const where = f.url ? ` (${path.basename(f.url.split('?')[0])}:${f.lineNumber + 1})` : '';
    const key = `${f.functionName || '(anonymous)'}${where}`;
    self.set(key, (self.get(key) ?? 0) + us);
  }
  const list = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, us]) => `${k} ${(us / 1000).toFixed(0)} ms`);
  return { busyMs: busy / 1000, totalMs: total / 1000, top: list };
}

/**
 * A Chromium trace of the page's renderer (Playwright's browser.startTracing), summarised: time by
 * trace event on the renderer's main thread (self time: less the events nested in it) and the
 * busy time of its other threads (compositor, raster workers), from their top-level tasks.
 */
export async function traceRenderer(
  page: Page,
  dir: string,
  name: string,
): Promise<{ stop(): Promise<{ file: string; mainSelfMs: string[]; threadsMs: string[] }> }> {
  const browser = page.context().browser();
  if (!browser) throw new Error('no browser to trace');
  const file = path.join(dir, `${name}.trace.json`);
  await browser.startTracing(page, { path: file, categories: ['toplevel', 'devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8.execute'] });
  return {
    async stop() {
      await browser.stopTracing();
      return { file, ...summariseTrace(file) };
    },
  };
}

interface TraceEvent {
  ph: string;
  name: string;
  pid: number;
  tid: number;
  ts: number;
  dur?: number;
  args?: { name?: string };
}

export function summariseTrace(file: string): { mainSelfMs: string[]; threadsMs: string[] } {
  const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as { traceEvents: TraceEvent[] } | TraceEvent[];
  const events = Array.isArray(parsed) ? parsed : parsed.traceEvents;
  const threadName = new Map<string, string>();
  for (const e of events) if (e.ph === 'M' && e.name === 'thread_name') threadName.set(`${e.pid}:${e.tid}`, e.args?.name ?? '?');
  const complete = events.filter((e) => e.ph === 'X' && e.dur !== undefined);
  // The renderer's main thread: the CrRendererMain with the most traced time.
  const byThread = new Map<string, TraceEvent[]>();
  for (const e of complete) {
    const k = `${e.pid}:${e.tid}`;
    const list = byThread.get(k);
    if (list) list.push(e);
    else byThread.set(k, [e]);
  }
  // Top-level tasks are traced as RunTask or ThreadControllerImpl::RunTask (one inside the other): the larger sum.
  const sum = (list: TraceEvent[], name: string) => list.filter((e) => e.name === name).reduce((s, e) => s + e.dur!, 0);
  const topLevel = (list: TraceEvent[]) => Math.max(sum(list, 'RunTask'), sum(list, 'ThreadControllerImpl::RunTask'));
  const mains = [...byThread.keys()]
    .filter((k) => threadName.get(k) === 'CrRendererMain')
    .sort((a, b) => topLevel(byThread.get(b)!) - topLevel(byThread.get(a)!));
  const self = new Map<string, number>();
  const main = mains[0] ? byThread.get(mains[0])! : [];
  main.sort((a, b) => a.ts - b.ts || b.dur! - a.dur!);
  const stack: { e: TraceEvent; childUs: number }[] = [];
  const close = (until: number) => {
    while (stack.length && stack[stack.length - 1].e.ts + stack[stack.length - 1].e.dur! <= until) {
      const top = stack.pop()!;
      self.set(top.e.name, (self.get(top.e.name) ?? 0) + Math.max(0, top.e.dur! - top.childUs));
      if (stack.length) stack[stack.length - 1].childUs += top.e.dur!;
    }
  };
  for (const e of main) {
    close(e.ts);
    stack.push({ e, childUs: 0 });
  }
  close(Number.POSITIVE_INFINITY);
  const ms = (us: number) => `${(us / 1000).toFixed(0)} ms`;
  const mainSelfMs = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 15)
    .map(([k, us]) => `${k} ${ms(us)}`);
  const threads = new Map<string, number>();
  for (const [k, list] of byThread) {
    const n = threadName.get(k) ?? k;
    const busy = topLevel(list);
    if (busy > 0) threads.set(n, (threads.get(n) ?? 0) + busy);
  }
  const threadsMs = [...threads.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 10)
    .map(([k, us]) => `${k} ${ms(us)}`);
  return { mainSelfMs, threadsMs };
}

/**
 * HTTP(S) fetching for the crawler on top of an undici Agent (keep-alive,
 * one connection pool per origin).
 *
 * Redirects are followed by hand so every hop is normalized, checked for
 * loops and scheme, and offered to the caller's checkRedirect (or, with
 * followRedirects: false, handed back for the caller to schedule). Bodies are
 * decompressed here (gzip, deflate in its RFC 9110 zlib form, br) and capped
 * both before and after decompression; going over a cap, a timeout or the
 * caller's abort destroys the response body, which makes undici close the
 * connection instead of leaving it half-read in the pool.
 */

import type { Readable, Transform } from 'node:stream';
import zlib from 'node:zlib';
import { Agent, buildConnector, errors } from 'undici';
import { clip } from '../core/text';
import type { AddressPolicy } from '../protocol';
import { AddressRefusedError, guardConnect } from './addresses';
import { normalizeUrl, originOf, requestTarget } from './url';

export type FetchErrorCode =
  | 'timeout'
  | 'network'
  | 'too_large'
  | 'redirect_loop'
  | 'too_many_redirects'
  | 'bad_redirect'
  | 'aborted'
  | 'decode'
  | 'blocked'
  /** The address policy refused the host's address (addresses.ts). */
  | 'address';

export class FetchError extends Error {
  constructor(
    readonly code: FetchErrorCode,
    message: string,
    /** Whether trying the same URL later may succeed. */
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'FetchError';
  }
}

export interface FetcherOptions {
  userAgent: string;
  connectTimeoutMs: number;
  /** From sending the request until the response headers are complete. */
  headersTimeoutMs: number;
  /** Longest pause between two body chunks. */
  bodyTimeoutMs: number;
  /** The whole fetch, redirects and body included. */
  totalTimeoutMs: number;
  /**
   * A body that comes slower than SLOW_BODY_BYTES_PER_S over a window this long is given up (default
   * 10 s): a byte every 10 s stays under the body timeout, and held a worker for the whole fetch.
   */
  slowBodyWindowMs?: number;
  /** Cap on the body, both as received and decompressed. */
  maxBodyBytes: number;
  maxRedirects: number;
}

export interface FetchOptions {
  signal?: AbortSignal;
  /** Called for each redirect hop (normalized URLs); a string refuses it with that reason. An exception from it is rethrown as is. */
  checkRedirect?: (from: string, to: string) => true | string;
  /** Receives each decompressed body chunk as it arrives; an exception from it ends the fetch and is rethrown as is. */
  onBody?: (chunk: Buffer) => void;
  /** Accept header; defaults to preferring HTML. */
  accept?: string;
  /**
   * Keep at most this many decompressed bytes of the body and stop reading there, with
   * `truncated` set, rather than fail as too large (robots.txt: only its first 500 KiB count).
   */
  truncateAt?: number;
  /** Which addresses may be connected to (default any); a refused one fails with code `blocked`. */
  addresses?: AddressPolicy;
  /**
   * Default true. When false a redirect is returned as the response, its normalized target in
   * `location` (a target that is not http(s) still fails with bad_redirect).
   */
  followRedirects?: boolean;
}

export interface FetchResult {
  /** The requested URL, normalized. */
  url: string;
  finalUrl: string;
  status: number;
  /** Lowercased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** The headers we set (undici adds `host`), for an archive's request record. */
  requestHeaders: Record<string, string>;
  /** MIME type without parameters, lowercased; null without a Content-Type. */
  contentType: string | null;
  /** charset parameter of Content-Type, if any. */
  charset: string | null;
  /** Decompressed body. */
  body: Buffer;
  /** Decompressed size. */
  bytes: number;
  /** Size as received on the wire. */
  rawBytes: number;
  durationMs: number;
  /** Each hop: the URL that answered with a redirect and its status. */
  redirects: { url: string; status: number }[];
  /** The normalized redirect target of a redirect that was not followed (followRedirects: false), else null. */
  location: string | null;
  /** Set when the body was cut at `truncateAt`. */
  truncated?: true;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const DEFAULT_ACCEPT = 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8';
/** A redirect body up to this size is read so the connection can be reused; larger ones close it. */
const REDIRECT_BODY_DUMP_LIMIT = 64 * 1024;
const ASCTIME = /^[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$/;
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);
/** The slowest body kept up with (as curl's --speed-limit): 8 hosts dripping a byte every 10 s took all 16 workers for a minute a page. */
export const SLOW_BODY_BYTES_PER_S = 1024;
/** The window a body's pace is judged over, unless the options say otherwise. */
const SLOW_BODY_WINDOW_MS = 10_000;
/** Why a fetch was stopped from outside its request: its whole-fetch bound, its caller, or a body too slow. */
type Stopped = 'timeout' | 'aborted' | 'slow';
/** Room for big cookies and policies; a response head past it is refused (Node's own default is 16 KiB). */
export const MAX_HEADER_BYTES = 64 * 1024;
/** Content codings undone for one response, at most, as curl caps them (CVE-2022-32206); servers apply one, rarely two. */
export const MAX_CODINGS = 5;

function flattenHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value !== undefined) out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/**
 * Header values reach us as Latin-1, but servers put UTF-8 in Location
 * (browsers read it as UTF-8); re-decode when the bytes are valid UTF-8.
 */
function headerUtf8(value: string): string {
  if (!/[\u0080-\u00ff]/.test(value)) return value;
  const decoded = Buffer.from(value, 'latin1').toString('utf8');
  return decoded.includes('\uFFFD') ? value : decoded;
}

function decoderFor(encoding: string): Transform | null {
  switch (encoding) {
    case 'gzip':
    case 'x-gzip':
      // Sync flush tolerates a missing gzip trailer, as browsers do.
      return zlib.createGunzip({ finishFlush: zlib.constants.Z_SYNC_FLUSH });
    case 'deflate':
      return zlib.createInflate({ finishFlush: zlib.constants.Z_SYNC_FLUSH });
    case 'br':
      return zlib.createBrotliDecompress({ finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH });
    default:
      return null;
  }
}

/** What one fetch knows when it fails: whose errors are whose, and how far into a body it got. */
type Failures = {
  decode: WeakSet<object>;
  caller: WeakSet<object>;
  /** Set once a body is being read: bytes received so far and the declared Content-Length. */
  body: { received: { bytes: number }; declared: number | null; stream: Readable } | null;
  /** The URL being requested when the last hop is a redirect's target, else null. */
  redirectedTo: string | null;
};

/** Runs a caller callback, marking what it throws so it is rethrown as is rather than wrapped. */
function callerCode<T>(failures: Failures, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (typeof err === 'object' && err !== null) failures.caller.add(err);
    throw err;
  }
}

/** Thrown from the body's sink to stop reading at `truncateAt`; never leaves `run`. */
const TRUNCATED = new Error('truncated');

function tooLarge(what: string, max: number): FetchError {
  return new FetchError('too_large', `${what} exceeds the ${max}-byte limit`, false);
}

/**
 * Reads `body` through its decoders (each feeding the next) into `sink`, failing once more than
 * `maxRaw` bytes arrive. Plain listeners rather than stream.pipeline: this runs for every page, and
 * pipeline's own AbortController and its abort on completion cost more than the rest of the read.
 */
function drain(body: Readable, decoders: Transform[], received: { bytes: number }, maxRaw: number, sink: (chunk: Buffer) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let failed = false;
    const fail = (err: Error) => {
      if (failed) return;
      failed = true;
      for (const d of decoders) d.destroy();
      reject(err);
    };
    let bodyEnded = false;
    body.once('end', () => (bodyEnded = true));
    body.once('close', () => {
      if (!bodyEnded) fail(new Error('response body closed before its end'));
    });
    const stages: Readable[] = [body, ...decoders];
    stages.forEach((stage, i) => {
      const next: Transform | undefined = decoders[i];
      stage.on('error', fail);
      stage.on('data', (chunk: Buffer) => {
        if (failed) return;
        try {
          if (i === 0) {
            received.bytes += chunk.length;
            if (received.bytes > maxRaw) throw tooLarge('response body', maxRaw);
          }
          if (next === undefined) {
            sink(chunk);
          } else if (!next.write(chunk)) {
            stage.pause();
            next.once('drain', () => stage.resume());
          }
        } catch (err) {
          fail(err as Error);
        }
      });
      stage.on('end', () => {
        if (failed) return;
        if (next === undefined) resolve();
        else next.end();
      });
    });
  });
}

export class Fetcher {
  /**
   * One agent per address policy: a pooled connection is checked when it is made, so one made for
   * a crawl that may reach loopback must never serve a crawl that may not.
   */
  private readonly agents = new Map<AddressPolicy, Agent>();

  constructor(private readonly options: FetcherOptions) {}

  private agentFor(policy: AddressPolicy): Agent {
    let agent = this.agents.get(policy);
    if (agent === undefined) {
      const guard = guardConnect(policy);
      agent = new Agent({
        connect: guard.wrap(buildConnector({ timeout: this.options.connectTimeoutMs, ...(guard.lookup && { lookup: guard.lookup }) })),
        headersTimeout: this.options.headersTimeoutMs,
        bodyTimeout: this.options.bodyTimeoutMs,
        maxHeaderSize: MAX_HEADER_BYTES,
      });
      this.agents.set(policy, agent);
    }
    return agent;
  }

  /** Closes the agents' pooled connections once in-flight requests finish. */
  async close(): Promise<void> {
    await Promise.all([...this.agents.values()].map((a) => a.close()));
  }

  /** Fetches `url` (must be an http(s) URL; throws TypeError otherwise). Failures are FetchErrors. */
  async fetch(url: string, options: FetchOptions = {}): Promise<FetchResult> {
    const start = performance.now();
    const first = normalizeUrl(url);
    if (!first.ok) throw new TypeError(`cannot fetch ${url}: ${first.reason}`);
    if (options.signal?.aborted) throw new FetchError('aborted', `fetch of ${first.url} aborted`, true);

    const controller = new AbortController();
    let stopped: Stopped | null = null;
    const stop = (why: Stopped) => {
      stopped ??= why;
      controller.abort();
    };
    const onCallerAbort = () => stop('aborted');
    options.signal?.addEventListener('abort', onCallerAbort, { once: true });
    const timer = setTimeout(() => stop('timeout'), this.options.totalTimeoutMs);
    const failures: Failures = { decode: new WeakSet(), caller: new WeakSet(), body: null, redirectedTo: null };
    // The body's pace, window by window, once it has begun (the headers have their own timeout).
    const windowMs = this.options.slowBodyWindowMs ?? SLOW_BODY_WINDOW_MS;
    let counted: { received: { bytes: number }; at: number; when: number } | null = null;
    const pace = setInterval(() => {
      const body = failures.body;
      if (body === null) return;
      const when = performance.now();
      // No verdict on a window in which this side was the slow one: the body paused by its decoders,
      // or this thread held past the window (its data unread yet, the timer running first).
      const judged = counted?.received === body.received && !body.stream.isPaused() && when - counted.when < 1.5 * windowMs;
      if (judged && body.received.bytes - counted!.at < (SLOW_BODY_BYTES_PER_S * windowMs) / 1000) stop('slow');
      counted = { received: body.received, at: body.received.bytes, when };
    }, windowMs);
    try {
      const result = await this.run(first.url, options, controller.signal, failures);
      return { ...result, durationMs: Math.round(performance.now() - start) };
    } catch (err) {
      throw this.toFetchError(err, first.url, stopped, failures);
    } finally {
      clearTimeout(timer);
      clearInterval(pace);
      options.signal?.removeEventListener('abort', onCallerAbort);
    }
  }

  private async run(url: string, options: FetchOptions, signal: AbortSignal, failures: Failures): Promise<Omit<FetchResult, 'durationMs'>> {
    const { maxBodyBytes, maxRedirects } = this.options;
    const { checkRedirect, onBody } = options;
    const follow = options.followRedirects ?? true;
    const redirects: { url: string; status: number }[] = [];
    const seen = new Set([url]);
    const agent = this.agentFor(options.addresses ?? 'any');
    let current = url;
    const requestHeaders = {
      'user-agent': this.options.userAgent,
      accept: options.accept ?? DEFAULT_ACCEPT,
      'accept-encoding': 'gzip, deflate, br',
    };
    for (;;) {
      failures.redirectedTo = redirects.length > 0 ? current : null;
      const res = await agent.request({ origin: originOf(current), path: requestTarget(current), method: 'GET', headers: requestHeaders, signal });
      const headers = flattenHeaders(res.headers);
      const status = res.statusCode;

      let location: string | null = null;
      if (REDIRECT_STATUSES.has(status) && headers.location !== undefined) {
        const target = headerUtf8(headers.location);
        const next = normalizeUrl(target, current);
        if (next.ok && !follow) {
          location = next.url;
        } else {
          // Reading a small body lets the connection return to the pool; failures here only cost that connection.
          await res.body.dump({ limit: REDIRECT_BODY_DUMP_LIMIT }).catch(() => undefined);
          if (!next.ok) throw new FetchError('bad_redirect', `${current} redirects to ${clip(target, 300)}: ${next.reason}`, false);
          redirects.push({ url: current, status });
          if (seen.has(next.url)) throw new FetchError('redirect_loop', `redirect loop: ${current} redirects back to ${next.url}`, false);
          if (redirects.length > maxRedirects) {
            throw new FetchError('too_many_redirects', `more than ${maxRedirects} redirects starting at ${url}`, false);
          }
          const verdict = checkRedirect ? callerCode(failures, () => checkRedirect(current, next.url)) : true;
          if (verdict !== true) throw new FetchError('blocked', `redirect to ${next.url} refused: ${verdict}`, false);
          seen.add(next.url);
          current = next.url;
          continue;
        }
      }

      const chunks: Buffer[] = [];
      const received = { bytes: 0 };
      let bytes = 0;
      const { truncateAt } = options;
      let truncated = false;
      try {
        const declared = Number(headers['content-length']);
        if (declared > maxBodyBytes && truncateAt === undefined) throw tooLarge(`declared Content-Length ${declared}`, maxBodyBytes);
        failures.body = { received, declared: Number.isSafeInteger(declared) ? declared : null, stream: res.body };
        const decoders: Transform[] = [];
        const encodings = (headers['content-encoding'] ?? '')
          .toLowerCase()
          .split(',')
          .map((e) => e.trim());
        const applied = encodings.filter((e) => e !== '' && e !== 'identity');
        // A decoder each: a header of 20,000 took 2.2 s, 357 MB and a second of the event loop for an empty body.
        if (applied.length > MAX_CODINGS)
          throw new FetchError('decode', `${applied.length} Content-Encodings stacked (at most ${MAX_CODINGS} are undone)`, false);
        // Encodings are listed in the order they were applied, so undo them from the last.
        for (const encoding of applied.reverse()) {
          const decoder = decoderFor(encoding);
          if (decoder === null) throw new FetchError('decode', `unsupported Content-Encoding ${encoding}`, false);
          decoder.once('error', (err) => failures.decode.add(err));
          decoders.push(decoder);
        }
        await drain(res.body, decoders, received, maxBodyBytes, (whole) => {
          const chunk = truncateAt !== undefined && bytes + whole.length > truncateAt ? whole.subarray(0, truncateAt - bytes) : whole;
          bytes += chunk.length;
          if (bytes > maxBodyBytes) throw tooLarge('decompressed body', maxBodyBytes);
          chunks.push(chunk);
          if (onBody) callerCode(failures, () => onBody(chunk));
          if (chunk !== whole) throw TRUNCATED;
        });
      } catch (err) {
        if (err === TRUNCATED) truncated = true;
        // Abandoning the body mid-stream must close the connection, not leave it stalled in the pool.
        // The abort error destroy() emits is expected; without a listener it would be an uncaught exception.
        res.body.on('error', () => undefined);
        res.body.destroy();
        if (!truncated) throw err;
      }

      const contentTypeHeader = headers['content-type'] ?? '';
      return {
        url,
        finalUrl: current,
        status,
        headers,
        requestHeaders,
        contentType: contentTypeHeader.split(';')[0].trim().toLowerCase() || null,
        charset: /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentTypeHeader)?.[1].toLowerCase() ?? null,
        body: Buffer.concat(chunks),
        bytes,
        rawBytes: received.bytes,
        redirects,
        location,
        ...(truncated && { truncated }),
      };
    }
  }

  private toFetchError(err: unknown, url: string, stopped: Stopped | null, failures: Failures): unknown {
    if (err instanceof FetchError) return err;
    if (typeof err === 'object' && err !== null && failures.caller.has(err)) return err;
    if (err instanceof AddressRefusedError) {
      // The URL's own host refused is the policy's verdict on it; a redirect's target refused is a bad redirect.
      if (failures.redirectedTo === null) return new FetchError('address', err.message, false, { cause: err });
      return new FetchError('blocked', `redirect to ${failures.redirectedTo} refused: ${err.message}`, false, { cause: err });
    }
    if (stopped === 'timeout') {
      return new FetchError('timeout', `fetch of ${url} took longer than ${this.options.totalTimeoutMs} ms`, true, { cause: err });
    }
    if (stopped === 'aborted') return new FetchError('aborted', `fetch of ${url} aborted`, true, { cause: err });
    if (stopped === 'slow') {
      const window = (this.options.slowBodyWindowMs ?? SLOW_BODY_WINDOW_MS) / 1000;
      return new FetchError('timeout', `${url}: the body came slower than ${SLOW_BODY_BYTES_PER_S / 1024} KiB/s for ${window} s`, true, { cause: err });
    }
    const e = err as { code?: string; message?: string };
    if (typeof err === 'object' && err !== null && failures.decode.has(err)) {
      return new FetchError('decode', `cannot decompress ${url}: ${e.message}`, false, { cause: err });
    }
    const code = e.code ?? '';
    if (TIMEOUT_CODES.has(code)) return new FetchError('timeout', `${url}: ${e.message} (${code})`, true, { cause: err });
    if (code === 'UND_ERR_HEADERS_OVERFLOW') {
      return new FetchError('network', `${url}: response headers larger than ${MAX_HEADER_BYTES} bytes`, false, { cause: err });
    }
    const detail = `${e.message ?? String(err)}${code ? ` (${code})` : ''}`;
    // A response llhttp cannot parse will not get better by asking again (undici leaves its code unset mid-body).
    if (err instanceof errors.HTTPParserError || code.startsWith('HPE_')) {
      return new FetchError('network', `${url}: ${detail}`, false, { cause: err });
    }
    if (failures.body !== null) {
      const { received, declared } = failures.body;
      const got = declared === null ? `${received.bytes} bytes` : `${received.bytes} of ${declared} bytes`;
      return new FetchError('network', `${url}: connection lost after ${got} of the body: ${detail}`, true, { cause: err });
    }
    return new FetchError('network', `${url}: ${detail}`, true, { cause: err });
  }
}

/**
 * Connect errors that mean no server is there at all: nothing listens on the port, the name does
 * not exist, no route to the host or its network. A server's own failures (resets, timeouts, 5xx) are not among them.
 */
const NO_SERVER_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH']);

/** Whether a fetch failed for want of any server to connect to (NO_SERVER_CODES). */
export function noServer(err: FetchError): boolean {
  const code = (err.cause as { code?: unknown } | undefined)?.code;
  return err.code === 'network' && typeof code === 'string' && NO_SERVER_CODES.has(code);
}

/**
 * A fetch error's text without the URL it was fetching: "connect ECONNREFUSED 127.0.0.4:8081
 * (ECONNREFUSED)", not "http://127.0.0.4:8081/x: connect …"; "took longer than 5000 ms". Reports show the URL beside it and cut errors at a
 * width, which a long URL used to fill before the cause.
 */
export function causeOf(err: FetchError, url: string): string {
  const m = err.message;
  if (m.startsWith(`${url}: `)) return m.slice(url.length + 2);
  if (m.startsWith(`fetch of ${url} `)) return m.slice(`fetch of ${url} `.length);
  return m;
}

/**
 * Milliseconds to wait according to a Retry-After value (delta-seconds or an
 * HTTP-date), clamped to [0, maxMs]; null when absent or unparsable.
 */
export function parseRetryAfter(value: string | null | undefined, now: number, maxMs: number): number | null {
  if (value === null || value === undefined) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Math.min(Number(v) * 1000, maxMs);
  // Every HTTP-date form names a day or month; this keeps Date.parse from reading bare numbers as years.
  if (!/[a-z]/i.test(v)) return null;
  // asctime() dates carry no zone and Date.parse would read them as local time; HTTP dates are GMT.
  const date = Date.parse(ASCTIME.test(v) ? `${v} GMT` : v);
  return Number.isFinite(date) ? Math.min(Math.max(date - now, 0), maxMs) : null;
}

export type StatusClass = { outcome: 'done' | 'retry' | 'error'; reason: string };

/** What a final status (after redirects) means for the job. */
export function classifyStatus(status: number): StatusClass {
  if (status >= 200 && status < 300) return { outcome: 'done', reason: `HTTP ${status}` };
  // Retried, but not said so in the reason: it is the job's last error too once its attempts are spent
  // ("HTTP 500 (temporary)" on a page that failed for good).
  if (status === 408 || status === 429 || (status >= 500 && status < 600)) return { outcome: 'retry', reason: `HTTP ${status}` };
  if (status >= 400 && status < 500) return { outcome: 'error', reason: `HTTP ${status}` };
  if (status >= 300 && status < 400) return { outcome: 'error', reason: `HTTP ${status} redirect not followed` };
  return { outcome: 'error', reason: `unexpected HTTP status ${status}` };
}

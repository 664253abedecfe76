/**
 * Remote text on the terminal. A real site on loopback serves terminal controls in every field the
 * daemon keeps from a page: its title (HTML entities, as an attacker would), its links' paths, a
 * redirect's Location, a Content-Encoding header and a robots.txt rule. Every human-readable
 * crawlctl command must show them escaped (no window title set, no screen cleared, no text
 * reordered), and --json must keep them exact.
 */
import * as assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Job } from '../../server/src/protocol';
import { crawlctl, startDaemon, type DaemonProc, type RunResult } from './helpers/daemon-proc';
import { head, startRawHost, type RawHost } from './helpers/hostile';

const ESC = '\x1b';
const BEL = '\x07';

/** What the page's <title> decodes to: an OSC that sets the window title, CSI clear screen and colour, DEL, C1 CSI, bidi. */
const TITLE = `${ESC}]0;PWNED${BEL}${ESC}[2J${ESC}[31mRED\x7f \u009b2J \u202egpj.exe\u2069`;
const TITLE_SHOWN = '\\x1b]0;PWNED\\x07\\x1b[2J\\x1b[31mRED\\x7f \\x9b2J \\u202egpj.exe\\u2069';
/** A crawl's name can come from a seed file someone else wrote. */
const NAME = `${ESC}]0;NAME${BEL}\u2066x`;
const NAME_SHOWN = '\\x1b]0;NAME\\x07\\u2066x';

/** Anything a terminal would act on or reorder, but the output's own line breaks. */
const UNSAFE = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/u;

function assertSafe(r: RunResult, what: string): void {
  for (const [stream, out] of [
    ['stdout', r.stdout],
    ['stderr', r.stderr],
  ] as const) {
    const bad = UNSAFE.exec(out);
    assert.equal(bad, null, `${what}: ${stream} has U+${bad?.[0].codePointAt(0)?.toString(16).padStart(4, '0')} raw:\n${JSON.stringify(out)}`);
  }
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

let site: RawHost;
let daemon: DaemonProc;
const at = () => ['--state-dir', daemon.stateDir];

/** Header values cannot carry C0 controls (the fetcher refuses them), but UTF-8 bidi and C1 controls pass: C1 OSC sets the window title too. */
const LOCATION = 'x-evil:\u202e\u009d0;LOC\u009c';
const LOCATION_SHOWN = 'x-evil:\\u202e\\x9d0;LOC\\x9c';
const ENCODING_SHOWN = 'Content-Encoding x\\x9b2j';
const RULE = `Disallow: /private\u202e${ESC}[2J`;
const RULE_SHOWN = 'Disallow: /private\\u202e\\x1b[2J';

const PAGE = `<html><head><title>&#27;]0;PWNED&#7;&#27;[2J&#27;[31mRED&#127; \u009b2J \u202egpj.exe\u2069</title></head><body>
<a href="/redirect">r</a> <a href="/encoding">e</a> <a href="/p${ESC}[2J\u202e">p</a> <a href="/private\u202e${ESC}[2J">s</a>
</body></html>`;

function respond(s: Socket, headers: Record<string, string | number>, body: string, status?: string): void {
  const bytes = Buffer.from(body);
  // Latin-1: one byte per character of the head, as given.
  s.write(Buffer.from(head({ ...headers, 'content-length': bytes.length }, status), 'latin1'));
  s.write(bytes);
}

before(async () => {
  site = await startRawHost('127.0.0.91', {
    '/robots.txt': (s) => respond(s, { 'content-type': 'text/plain' }, `User-agent: *\n${RULE}\n`),
    '/': (s) => respond(s, {}, PAGE),
    // Location in UTF-8, as servers send it; Content-Encoding with the single byte 0x9b.
    '/redirect': (s) => respond(s, { location: Buffer.from(LOCATION).toString('latin1') }, '', 'HTTP/1.1 302 Found'),
    '/encoding': (s) => respond(s, { 'content-encoding': 'x\u009b2J' }, 'x'),
  });
  daemon = await startDaemon({ args: ['--per-host-delay', '0'] });
});

after(async () => {
  await daemon.stop();
  await site.close();
});

const json = async (args: string[]) => {
  const r = await crawlctl([...args, '--json', ...at()]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
};

describe('remote text is escaped on the terminal, exact in JSON', () => {
  test('crawl --wait: the progress, the rejected seed and the summary', async () => {
    const r = await crawlctl(['crawl', site.url('/'), `gopher://${ESC}[2J/`, '--wait', '--name', NAME, ...at()]);
    assert.equal(r.code, 1, 'a seed was rejected');
    assertSafe(r, 'crawl --wait');
    assert.match(r.stderr, /\[█+\] 5 finished of 5 found · 3 errors · [\d.]+ m?s · 1 skipped/);
    assert.ok(r.stderr.includes('rejected gopher://\\x1b[2J/: '), r.stderr);
    assert.ok(r.stdout.includes(`(${NAME_SHOWN}) finished`), r.stdout);
    for (const shown of [LOCATION_SHOWN, ENCODING_SHOWN, RULE_SHOWN]) assert.ok(r.stdout.includes(shown), `${shown} in\n${r.stdout}`);
  });

  test('jobs', async () => {
    const r = await crawlctl(['jobs', ...at()]);
    assert.equal(r.code, 0, r.stderr);
    assertSafe(r, 'jobs');
    for (const shown of [`HTTP 200 · ${TITLE_SHOWN}`, LOCATION_SHOWN, ENCODING_SHOWN, RULE_SHOWN])
      assert.ok(r.stdout.includes(shown), `${shown} in\n${r.stdout}`);
    // Each job on its own line: a newline from the web would have made more.
    const { jobs } = await json(['jobs']);
    assert.equal(r.stdout.trimEnd().split('\n').length, 1 + jobs.length);
    const root = jobs.find((j: Job) => j.url === site.url('/'));
    assert.equal(root.result.title, TITLE, 'JSON keeps the title exact');
    const errors = jobs.map((j: Job) => j.lastError).join('\n');
    for (const raw of [LOCATION, 'Content-Encoding x\u009b2j', RULE]) assert.ok(errors.includes(raw), `${JSON.stringify(raw)} in ${JSON.stringify(errors)}`);
  });

  test('job N: the record and its history', async () => {
    const { jobs } = await json(['jobs']);
    const shown = new Map<number, string>();
    for (const j of jobs as Job[]) {
      const r = await crawlctl(['job', String(j.id), ...at()]);
      assert.equal(r.code, 0, r.stderr);
      assertSafe(r, `job ${j.id}`);
      shown.set(j.id, r.stdout);
    }
    const byUrl = (p: string) => shown.get(jobs.find((j: Job) => j.url === site.url(p)).id) as string;
    assert.match(byUrl('/'), new RegExp(`^title +${esc(TITLE_SHOWN)}$`, 'm'));
    assert.match(byUrl('/redirect'), new RegExp(`^error +.*${esc(LOCATION_SHOWN)}`, 'm'));
    assert.match(byUrl('/redirect'), new RegExp(`\\sfailed\\s.*${esc(LOCATION_SHOWN)}.*\\(attempt 1/3\\)$`, 'm'), 'the history too');
    assert.match(byUrl('/encoding'), new RegExp(`^error +.*${esc(ENCODING_SHOWN)}$`, 'm'));
    assert.match(byUrl('/private%E2%80%AE%1B%5B2J'), new RegExp(`^note +robots\\.txt: ${esc(RULE_SHOWN)}$`, 'm'));
    assert.match(byUrl('/private%E2%80%AE%1B%5B2J'), new RegExp(`\\sskipped\\s+robots\\.txt: ${esc(RULE_SHOWN)}$`, 'm'));
    const root = await json(['job', String(jobs.find((j: Job) => j.url === site.url('/')).id)]);
    assert.equal(root.job.result.title, TITLE);
  });

  test('crawls', async () => {
    const r = await crawlctl(['crawls', ...at()]);
    assert.equal(r.code, 0, r.stderr);
    assertSafe(r, 'crawls');
    assert.match(r.stdout, new RegExp(`\\s${esc(NAME_SHOWN)}$`, 'm'));
    assert.equal((await json(['crawls'])).crawls[0].name, NAME);
  });

  test('enqueue: rejected lines, as they came from stdin', async () => {
    const r = await crawlctl(['enqueue', '-', ...at()], { input: `nope${ESC}]0;X${BEL}\u202e\n` });
    assert.equal(r.code, 1);
    assertSafe(r, 'enqueue');
    assert.ok(r.stderr.includes('rejected nope\\x1b]0;X\\x07\\u202e: '), r.stderr);
  });

  test('the other commands that show what the daemon holds', async () => {
    for (const command of ['stats', 'hosts', 'leases']) {
      const r = await crawlctl([command, ...at()]);
      assert.equal(r.code, 0, `${command}: ${r.stderr}`);
      assertSafe(r, command);
    }
  });

  test('crawl --wait --json: the failures exact', async () => {
    const r = await crawlctl(['crawl', site.url('/redirect'), '--wait', '--max-depth', '0', '--json', ...at()]);
    assert.equal(r.code, 1, 'a page ended in error');
    const out = JSON.parse(r.stdout);
    assert.equal(out.failed.length, 1);
    assert.ok(out.failed[0].lastError.includes(LOCATION), out.failed[0].lastError);
  });
});

/**
 * `npm run demo`: what a newcomer sees first. Serves the bundled demo site on loopback addresses,
 * runs a daemon in a temporary state folder, crawls the site through `crawlctl` with its live
 * progress bar, shows the summary and the hosts, then stops the daemon and cleans up.
 * `--keep` leaves the state folder for a look around afterwards.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startDemoSite, type DemoSite } from './site';

const CRAWLCTL = path.resolve(__dirname, '..', '..', '..', '..', 'bin', 'crawlctl.js');

function say(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** Runs crawlctl with the terminal: its progress bar and tables go straight to the user. */
function crawlctl(args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CRAWLCTL, ...args], { stdio: 'inherit' });
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 130 : 1)));
  });
}

/** Linux routes all of 127.0.0.0/8 to loopback; elsewhere only 127.0.0.1 may exist. */
async function startSite(): Promise<DemoSite> {
  try {
    return await startDemoSite();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRNOTAVAIL') throw err;
    say('(127.0.0.2-4 are not available here: the three sites share 127.0.0.1, so they count as one host.)');
    return startDemoSite({ addresses: ['127.0.0.1', '127.0.0.1', '127.0.0.1'] });
  }
}

async function waitForDaemon(daemon: ChildProcess, log: () => string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (/started: /.test(log())) {
        clearInterval(timer);
        resolve();
      }
    }, 50);
    daemon.once('exit', (code) => {
      clearInterval(timer);
      reject(new Error(`the daemon exited (${code}):\n${log()}`));
    });
  });
}

async function main(): Promise<number> {
  const keep = process.argv.includes('--keep');
  const site = await startSite();
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'crawl-demo-'));
  const at = ['--state-dir', stateDir];
  say('Crawl Orchestrator demo\n');
  say(`A small web on loopback: docs ${site.origins.docs}, blog ${site.origins.blog}, shop ${site.origins.shop}.`);
  say('It has a robots.txt forbidding /private/, a redirect, broken links (404, 410, 500, a dropped connection),');
  say('a nofollow link and a page that takes a few seconds. Two requests per host at most, across every worker.\n');

  let daemonLog = '';
  // --clientProcessId: a demo killed part-way takes its daemon with it.
  const daemon = spawn(process.execPath, [CRAWLCTL, 'daemon', ...at, '--per-host', '2', '--max-workers', '8', `--clientProcessId=${process.pid}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  daemon.stderr.setEncoding('utf8').on('data', (d: string) => {
    daemonLog += d;
  });
  let code: number;
  try {
    await waitForDaemon(daemon, () => daemonLog);
    say(`$ crawlctl daemon --state-dir ${stateDir}   (running in the background)`);
    say('Broken pages make `crawl --wait` exit 1, to fail a CI job; the demo expects them, so it allows them.');
    say(`$ crawlctl crawl ${site.seed} --scope any --max-depth 4 --name demo --wait --allow-failures\n`);
    code = await crawlctl(['crawl', site.seed, '--scope', 'any', '--max-depth', '4', '--name', 'demo', '--wait', '--allow-failures', ...at]);
    if (code === 0) {
      say('\n$ crawlctl hosts\n');
      await crawlctl(['hosts', ...at]);
      say('\n$ crawlctl jobs --state error\n');
      await crawlctl(['jobs', '--state', 'error', ...at]);
      say(`\nTry it on your own: "crawlctl daemon" in one terminal, "crawlctl crawl <url> --wait" in another.`);
    }
    say('\n$ crawlctl stop');
    await crawlctl(['stop', ...at]);
  } finally {
    if (daemon.exitCode === null) daemon.kill('SIGTERM');
    await site.close();
    if (keep) say(`\nThe demo's state folder is kept: ${stateDir}`);
    else fs.rmSync(stateDir, { recursive: true, force: true });
  }
  return code;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`demo failed: ${(err as Error).message}\n`);
    process.exit(1);
  },
);

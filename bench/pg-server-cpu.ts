/**
 * The PostgreSQL server's own CPU time, from /proc: the postmaster's (with that of the backends it
 * has reaped: a daemon's connections end with it) and that of every process it runs now. Read on
 * this machine only: a server elsewhere (CRAWL_BENCH_PG_URL) gives null.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import pg from 'pg';

/** Clock ticks per second, the unit of /proc/<pid>/stat's times. */
const TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces): [0] is field 3. */
function statFields(pid: number): string[] | null {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** The postmaster's pid, as the parent of a backend this connection reaches; null if not on this machine. */
export async function postmasterPid(url: string): Promise<number | null> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const {
      rows: [r],
    } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const f = statFields(r.pid);
    return f ? Number(f[1]) : null;
  } finally {
    await client.end();
  }
}

/** CPU ms the server has used so far: the postmaster's own and its reaped children's, and its live children's. */
export function serverCpuMs(postmaster: number): number {
  const own = statFields(postmaster);
  if (!own) throw new Error(`no PostgreSQL server process ${postmaster}`);
  // utime, stime, cutime, cstime: fields 14-17.
  let ticks = [11, 12, 13, 14].reduce((n, i) => n + Number(own[i]), 0);
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const f = statFields(Number(entry));
    if (f && Number(f[1]) === postmaster) ticks += Number(f[11]) + Number(f[12]);
  }
  return (ticks * 1000) / TICKS;
}

/**
 * A daemon "of another machine" on this one: run under a host name of its own (a UTS namespace,
 * `unshare --uts`), its worker ids name another host, so the daemons here cannot look its pid up
 * and wait out its leases' TTL, as they would for a daemon on another machine. The benchmark's
 * scale section uses it too. Root makes the namespace directly; anyone else through a user
 * namespace of their own, where the system allows them.
 */
import { execFileSync } from 'node:child_process';

/** The command to run a daemon under `host` (it execs the rest of the line), or why it cannot be done here. */
export function elsewhere(host: string): { wrapper: string[] } | { why: string } {
  const wrapper = ['unshare', ...(process.getuid?.() === 0 ? [] : ['--user', '--map-root-user']), '--uts', 'sh', '-c', 'hostname "$0" && exec "$@"', host];
  try {
    execFileSync(wrapper[0], [...wrapper.slice(1), 'true'], { stdio: 'ignore' });
    return { wrapper };
  } catch (err) {
    return { why: `unshare --uts is not available here (${(err as Error).message.split('\n')[0]})` };
  }
}

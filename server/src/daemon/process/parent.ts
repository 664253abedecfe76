/**
 * Stopping with whoever started the daemon: `--clientProcessId` (the editor, or a script that ran
 * `crawlctl daemon`), or the LSP client's processId. A process that dies without a word leaves
 * nothing else to tell: an orphan's stderr pipe fails only once something is written to it.
 */

const POLL_MS = 3_000;

/** Calls `onGone` once `pid` no longer exists. */
export function whenGone(pid: number, onGone: () => void): void {
  const timer = setInterval(() => {
    try {
      process.kill(pid, 0);
    } catch (err) {
      // EPERM: it exists, only under another user.
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') return;
      clearInterval(timer);
      onGone();
    }
  }, POLL_MS).unref();
}

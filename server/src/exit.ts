/**
 * The exit codes of crawlctl and of a daemon's process (`crawlctl daemon`, main.js), which scripts
 * may rely on; here, beside the contract, so that neither imports the other:
 *   0    done
 *   1    the daemon refused the request or part of it (an error answer, rejected URLs), or a
 *        daemon could not start, or a crawl waited for (`crawl --wait`, `watch`) ended cancelled
 *        or with pages in error, unless --allow-failures (so a CI job fails on broken links)
 *   2    usage: an unknown command or flag, a bad value; nothing was done
 *   3    no daemon is running where the command looked (see --state-dir / --socket)
 *   130  interrupted (Ctrl-C)
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, noDaemon: 3, interrupted: 130 } as const;

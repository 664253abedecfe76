/**
 * What went wrong, as a class of failures rather than one failure's text: the queue stores it with
 * every failed job (jobs.reason) and counts failed jobs by it; the crawl report groups its broken
 * links by it. One function, so that a reason the report shows is one the queue can list.
 *
 * This module imports nothing: the extension bundles it with the report. A change to what it
 * returns changes the reasons written from then on; the queue's stored ones keep the old wording
 * until a migration computes them again (as the queue's migration that added them did).
 */

/** The longest reason: the normalized text is cut here (an index key, a tree row's label; protocol.ts MAX_JOB_REASON). */
export const MAX_REASON = 120;

/**
 * What went wrong, without the URLs it went wrong at: "https://a.test:8080/x: connect
 * ECONNREFUSED 127.0.0.1:80" and its like for every page of a host that is down read as one
 * reason. A URL runs to the next space, or to a colon and a space.
 */
export function failureReason(error: string): string {
  const econn = /\b(ECONNREFUSED|ECONNRESET|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|EAI_AGAIN)\b/.exec(error);
  if (econn) return econn[1];
  const text = error
    .replace(/https?:\/\/\S+?(?=:\s|\s|$)/g, '…')
    .replace(/^(fetch of )?…:?\s*/, '')
    .replace(/\d+(\.\d+)?\s*(ms|s|bytes)\b/g, 'N $2')
    .trim();
  return (text || error).slice(0, MAX_REASON);
}

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
  return wellFormed(cut(text || error, MAX_REASON));
}

/** At most `max` UTF-16 units, never ending in the first half of a character (an emoji cut in two). */
function cut(s: string, max: number): string {
  if (s.length <= max) return s;
  const head = s.slice(0, max);
  return /[\uD800-\uDBFF]$/.test(head) ? head.slice(0, -1) : head;
}

/**
 * Half characters (lone surrogates) made U+FFFD, as SQLite reads them back and PostgreSQL's jsonb
 * refuses them: a reason (and the error it is made from) must be stored and counted as JavaScript
 * holds it. One cut in two by the length above left reason_counts at +1 for it and -1 for its
 * read-back form, and on PostgreSQL failed the whole acknowledgement.
 */
export function wellFormed(s: string): string {
  return s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/**
 * Instants as a person reads them, in this machine's local time: the editor and crawlctl show the
 * daemon's ISO UTC times (its fields, and the instants it writes into reasons and errors) through
 * these. Like the contract it loads nothing: the extension bundles it.
 */

export function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/**
 * The local wall-clock time of an instant, "14:03:07" (with `ms`, "14:03:07.250"), with the date
 * when not today.
 */
export function formatClock(iso: string, now: number, { ms = false } = {}): string {
  const at = new Date(iso);
  const time = `${pad2(at.getHours())}:${pad2(at.getMinutes())}:${pad2(at.getSeconds())}${ms ? `.${String(at.getMilliseconds()).padStart(3, '0')}` : ''}`;
  return at.toDateString() === new Date(now).toDateString() ? time : `${at.getFullYear()}-${pad2(at.getMonth() + 1)}-${pad2(at.getDate())} ${time}`;
}

/**
 * ISO-8601 UTC instants as the daemon writes them into text (new Date().toISOString()), or a URL
 * (up to the next space), matched first so that an instant inside it (a path "/log/2026-...Z") is
 * left as it is: the URL must stay the one the daemon named.
 */
const ISO_INSTANT_OR_URL = /\b[a-z][a-z\d+.-]*:\/\/\S*|\b(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)\b/gi;

/** The instants (ms since the epoch) text from the daemon names, outside URLs. */
export function instantsIn(text: string): number[] {
  return [...text.matchAll(ISO_INSTANT_OR_URL)].flatMap(([, iso]) => (iso === undefined || Number.isNaN(Date.parse(iso)) ? [] : [Date.parse(iso)]));
}

/**
 * Text from the daemon (an event's detail, an error, an idle reason) with the instants in it as
 * local clock times: "retry at 2026-01-02T09:38:35.000Z" reads "retry at 09:38:35".
 */
export function localTimes(text: string, now: number): string {
  return text.replace(ISO_INSTANT_OR_URL, (match, iso: string | undefined) =>
    iso === undefined || Number.isNaN(Date.parse(iso)) ? match : formatClock(iso, now),
  );
}

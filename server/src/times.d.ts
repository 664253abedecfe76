/**
 * Instants as a person reads them, in this machine's local time: the editor and crawlctl show the
 * daemon's ISO UTC times (its fields, and the instants it writes into reasons and errors) through
 * these. Like the contract it loads nothing: the extension bundles it.
 */
export declare function pad2(n: number): string;
/**
 * The local wall-clock time of an instant, "14:03:07" (with `ms`, "14:03:07.250"), with the date
 * when not today.
 */
export declare function formatClock(iso: string, now: number, { ms }?: {
    ms?: boolean | undefined;
}): string;
/**
 * Text from the daemon (an event's detail, an error, an idle reason) with the instants in it as
 * local clock times: "retry at 2026-01-02T09:38:35.000Z" reads "retry at 09:38:35".
 */
export declare function localTimes(text: string, now: number): string;

/**
 * Pause Crawl, Resume Crawl and Cancel Crawl from the palette: which crawls each applies to, and
 * what their picker says. No editor calls here, so the choice and the wording are tested alone.
 */
import type { Crawl, CrawlState } from '../../server/src/protocol';
import { crawlDescription, crawlLabel, newestFirst } from './jobsTreeText';

export type CrawlAction = 'pause' | 'resume' | 'cancel';

/** The states the daemon acts on: it refuses to pause or resume a finished or cancelled crawl, and cancelling one does nothing. */
const APPLIES_TO: Record<CrawlAction, readonly CrawlState[]> = {
  pause: ['running'],
  resume: ['paused'],
  cancel: ['running', 'paused'],
};

const NOTHING_TO: Record<CrawlAction, string> = {
  pause: 'No crawl is running, so there is none to pause.',
  resume: 'No crawl is paused, so there is none to resume.',
  cancel: 'No crawl is running or paused, so there is none to cancel.',
};

/** The crawls `action` applies to, newest first. */
export function crawlsFor(action: CrawlAction, crawls: readonly Crawl[]): Crawl[] {
  return newestFirst(crawls.filter((c) => APPLIES_TO[action].includes(c.state)));
}

/** What the picker offers when no crawl qualifies. */
export function nothingTo(action: CrawlAction): string {
  return NOTHING_TO[action];
}

/** A picker row: "name (id)", with its state and progress as the Jobs view shows them, and its seeds. */
export function crawlPickItem(crawl: Crawl): { label: string; description: string; detail: string } {
  const more = crawl.seeds.length > 3 ? ` and ${crawl.seeds.length - 3} more` : '';
  return { label: crawlLabel(crawl), description: crawlDescription(crawl), detail: `${crawl.seeds.slice(0, 3).join(' ')}${more}` };
}

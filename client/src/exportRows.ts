/**
 * Export Crawl Results, the editor's own words for it: what each exported record is called in
 * messages, and the file's suggested name. What the file holds is the contract's
 * (server/src/exports.ts), the same as `crawlctl export` writes.
 */
import type { ExportFormat, ExportKind } from '../../server/src/exports';

/** What each exported record is called in messages: "Exported 1,234 pages". */
export const KIND_NOUNS: Record<ExportKind, [string, string]> = {
  pages: ['page', 'pages'],
  links: ['link', 'links'],
  broken: ['broken link', 'broken links'],
};

/** "docs-crawl-pages.csv": the crawl's name (else its id) made safe for a file name, the kind and the format. */
export function defaultFileName(crawl: { crawlId: string; name: string | null }, kind: ExportKind, format: ExportFormat): string {
  const safe = (crawl.name ?? '')
    // Separators, characters Windows refuses, control characters; then runs of dashes and spaces.
    .replace(/[/\\:*?"<>|\x00-\x1f\x7f]+/g, '-')
    .replace(/\s+/g, ' ')
    .replace(/-{2,}/g, '-')
    .trim()
    .replace(/^[.\- ]+|[.\- ]+$/g, '')
    .slice(0, 80)
    .trim();
  // The format's name is its file extension.
  return `${safe || crawl.crawlId}-${kind === 'broken' ? 'broken-links' : kind}.${format}`;
}

/**
 * `crawlctl export`: a crawl's pages, its links, or its broken links with every page linking to
 * them, as JSON lines or CSV. It streams in constant memory: one cursor page of records (1,000) is
 * asked for, written, and the next asked for only once the output has taken it (a slow reader, a
 * full pipe, holds the export back rather than filling memory).
 */
import { escapeControls, terminalSafeJson } from '../core/text';
import { exportBatches, exportFields, fileHeader, formatRecords, type Ask, type ExportFormat, type ExportKind, type Sink } from '../exports';

export interface ExportCounts {
  /** Lines written (the CSV header not counted). */
  rows: number;
  /** For `broken`: the broken URLs. */
  urls: number;
}

export interface ExportOptions {
  /** The output is a terminal: CSV cells have their control characters escaped, as crawlctl shows all remote text. */
  terminal?: boolean;
}

/**
 * Writes the export to `sink`, a cursor page at a time, and says how much it wrote. JSON lines
 * read back the same values (what a terminal would act on is written as `\uXXXX`); CSV cells are
 * written exact, except on a terminal.
 */
export async function exportCrawl(
  ask: Ask,
  crawlId: string,
  what: ExportKind,
  format: ExportFormat,
  sink: Sink,
  opts: ExportOptions = {},
): Promise<ExportCounts> {
  const counts: ExportCounts = { rows: 0, urls: 0 };
  const fields = await exportFields(ask, crawlId, what, format);
  await sink.write(fileHeader(what, format, fields));
  for await (const { records, urls } of exportBatches(ask, crawlId, what)) {
    const text = formatRecords(what, format, records, { fields, ...(opts.terminal && { csvText: escapeControls }) });
    // JSON's escapes are lossless, so they are there whatever the output (CSV has none: escaped text is other text).
    await sink.write(format === 'jsonl' ? terminalSafeJson(text) : text);
    counts.rows += records.length;
    counts.urls += urls;
  }
  return counts;
}

/**
 * Export Crawl Results...: from a crawl's row in the Jobs view (or the palette, which asks which
 * crawl), asks what to export and in which format, where to save it, then writes it in a
 * cancellable progress notification (exportCrawl.ts) and offers to open the file.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ErrorCodes, type Crawl } from '../../server/src/protocol';
import type { DaemonApi } from './daemonApi';
import { ExportCancelled, exportCrawl } from './exportCrawl';
import type { ExportFormat, ExportKind } from '../../server/src/exports';
import { KIND_NOUNS, defaultFileName } from './exportRows';
import { plural } from './format';
import { crawlLabel, newestFirst } from './jobsTreeText';
import { pickCrawl } from './crawlPicker';

const TITLE = 'Export Crawl Results';

const KIND_PICKS: { what: ExportKind; label: string; detail: string }[] = [
  { what: 'pages', label: 'Pages', detail: 'One record per page: status, redirects, title, description, canonical, robots, size, timing, where it was found' },
  { what: 'links', label: 'Links', detail: 'Every link found on the pages, with its text, and whether it was followed or why not' },
  { what: 'broken', label: 'Broken links', detail: 'Each URL that answered 4xx or 5xx or not at all, once for each page linking to it' },
];

const FORMAT_PICKS: { format: ExportFormat; label: string; description: string; filter: string }[] = [
  { format: 'jsonl', label: 'JSON Lines', description: '.jsonl: one JSON object a line', filter: 'JSON Lines' },
  { format: 'csv', label: 'CSV', description: '.csv: comma-separated, with a header row', filter: 'CSV' },
];

/**
 * Runs the whole flow. `target`: the crawl of the row the menu was opened on, or a crawl id (a
 * script's argument); undefined asks.
 */
export async function exportCrawlResults(daemon: DaemonApi, target: Crawl | string | undefined): Promise<void> {
  const crawl =
    typeof target === 'string'
      ? (await daemon.request('crawl/get', { crawlId: target })).crawl
      : (target ?? (await pickCrawl(daemon, TITLE, newestFirst, 'There is no crawl to export yet: start one with Start Crawl.')));
  if (!crawl) return;
  const label = crawlLabel(crawl);

  const kindPick = await vscode.window.showQuickPick(KIND_PICKS, {
    title: `${TITLE} (1/3): ${label}`,
    placeHolder: 'What to export',
    ignoreFocusOut: true,
  });
  if (!kindPick) return;
  const formatPick = await vscode.window.showQuickPick(FORMAT_PICKS, {
    title: `${TITLE} (2/3): ${kindPick.label.toLowerCase()} of ${label}`,
    placeHolder: 'File format',
    ignoreFocusOut: true,
  });
  if (!formatPick) return;
  const kind = kindPick.what;
  const { format } = formatPick;

  const name = defaultFileName(crawl, kind, format);
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
  const defaultUri = folder ? vscode.Uri.joinPath(folder, name) : vscode.Uri.file(path.join(os.homedir(), name));
  const uri = await vscode.window.showSaveDialog({
    title: `${TITLE} (3/3): save ${kindPick.label.toLowerCase()} of ${label} as`,
    defaultUri,
    saveLabel: 'Export',
    filters: { [formatPick.filter]: [format] },
  });
  if (!uri) return;
  if (uri.scheme !== 'file') {
    void vscode.window.showErrorMessage(`${TITLE}: ${uri.toString()} is not a file on disk; choose a folder of this machine's file system.`);
    return;
  }
  const file = uri.fsPath;
  const base = path.basename(file);
  const [noun, nouns] = KIND_NOUNS[kind];

  try {
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Exporting ${kindPick.label.toLowerCase()} of ${label}`, cancellable: true },
      (progress, token) =>
        exportCrawl(
          daemon,
          { crawlId: crawl.crawlId, kind, format, file },
          {
            isCancelled: () => token.isCancellationRequested,
            onProgress: (p) => progress.report({ message: `${plural(p.records, noun, nouns)} written to ${base}` }),
          },
        ),
    );
    const urls = kind === 'broken' ? ` (${plural(result.urls, 'URL')})` : '';
    const choice = await vscode.window.showInformationMessage(`Exported ${plural(result.records, noun, nouns)}${urls} to ${base}`, 'Open');
    if (choice === 'Open') await vscode.commands.executeCommand('vscode.open', uri);
  } catch (err) {
    if (err instanceof ExportCancelled) {
      void vscode.window.showInformationMessage(`Export of ${label} cancelled: ${base} was not written.`);
      return;
    }
    void vscode.window.showErrorMessage(
      `Could not export ${kindPick.label.toLowerCase()} of ${label} to ${base}: ${describeError(err)} Nothing was written to ${base}.`,
    );
  }
}

function describeError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown } | null)?.code;
  if (code === ErrorCodes.MethodNotFound)
    return `${message} (the running daemon does not know this request: restart it so that it is the extension's own version).`;
  return /[.!?)]$/.test(message) ? message : `${message}.`;
}

/** The one crawl picker of the palette's crawl commands (pause, resume, cancel, export). */
import * as vscode from 'vscode';
import type { Crawl } from '../../server/src/protocol';
import { crawlPickItem } from './crawlActions';
import type { DaemonApi } from './daemonApi';

/**
 * Asks which of the crawls `offer` keeps (in its order); says `nothing` when it keeps none. Rows
 * are "name (id)", with state, progress and seeds.
 */
export async function pickCrawl(daemon: DaemonApi, title: string, offer: (crawls: readonly Crawl[]) => Crawl[], nothing: string): Promise<Crawl | undefined> {
  const { crawls } = await daemon.request('crawl/list', {});
  const candidates = offer(crawls);
  if (candidates.length === 0) {
    void vscode.window.showInformationMessage(nothing);
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    candidates.map((crawl) => ({ ...crawlPickItem(crawl), crawl })),
    { title, placeHolder: 'Which crawl', matchOnDescription: true, matchOnDetail: true, ignoreFocusOut: true },
  );
  return picked?.crawl;
}

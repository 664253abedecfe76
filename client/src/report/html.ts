/**
 * The report page's HTML: a shell that loads the bundled script and styles from the extension's
 * own folder, under a Content Security Policy that allows nothing from the network: no fetch, no
 * remote image or font, scripts only with this page's nonce. A job's page (jobDocument.ts) is
 * drawn under the same policy, without any script. Pure, so that the policies are tested.
 */

export interface ReportPage {
  /** The webview's `cspSource`: where the extension's own files are served from. */
  cspSource: string;
  nonce: string;
  scriptUri: string;
  styleUris: readonly string[];
  title: string;
}

export function reportCsp(cspSource: string, nonce: string): string {
  return ["default-src 'none'", `style-src ${cspSource}`, `script-src 'nonce-${nonce}'`, `img-src ${cspSource} data:`, `font-src ${cspSource}`].join('; ');
}

/** The job page's policy: the report's, with no script at all (its links are followed by the editor). */
export function jobCsp(cspSource: string): string {
  // form-action and base-uri are not governed by default-src.
  return ["default-src 'none'", `style-src ${cspSource}`, `img-src ${cspSource} data:`, `font-src ${cspSource}`, "form-action 'none'", "base-uri 'none'"].join(
    '; ',
  );
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** A webview's page: its policy, stylesheets, title and body; every value but the body escaped here. */
function pageHtml(p: { csp: string; styleUris: readonly string[]; title: string; body: string }): string {
  const links = p.styleUris.map((u) => `<link rel="stylesheet" href="${escapeHtml(u)}">`).join('\n    ');
  return `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta http-equiv="Content-Security-Policy" content="${escapeHtml(p.csp)}">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    ${links}
    <title>${escapeHtml(p.title)}</title>
  </head>
  <body>
    ${p.body}
  </body>
</html>`;
}

export function reportHtml(p: ReportPage): string {
  return pageHtml({
    csp: reportCsp(p.cspSource, p.nonce),
    styleUris: p.styleUris,
    title: p.title,
    body: `<main id="report"><p class="quiet">Reading the crawl…</p></main>
    <script nonce="${escapeHtml(p.nonce)}" src="${escapeHtml(p.scriptUri)}"></script>`,
  });
}

export interface JobPage {
  cspSource: string;
  styleUris: readonly string[];
  title: string;
  /** The job's document rendered from Markdown, in which the text from the web is escaped. */
  body: string;
}

export function jobHtml(p: JobPage): string {
  return pageHtml({ csp: jobCsp(p.cspSource), styleUris: p.styleUris, title: p.title, body: `<main id="job">${p.body}</main>` });
}

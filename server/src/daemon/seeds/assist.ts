/**
 * Writing a seed file: completion of option keys and values, hover help on option lines, and
 * quick fixes for the parser's problems. Everything an option says comes from options.ts.
 */
import {
  CodeActionKind,
  CompletionItemKind,
  MarkupKind,
  type CodeAction,
  type CompletionItem,
  type Diagnostic,
  type Hover,
  type Position,
  type Range,
  type TextEdit,
  type WorkspaceEdit,
} from 'vscode-languageserver/lib/common/api';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { OPTION_LINE, optionLine, stripComment, type SeedFile, type SeedProblem } from './file';
import { optionMarkdown, optionNamed, type SeedOption, type SeedOptions } from './options';

/** VS Code's command to open the suggestions again: after a key, its values are offered at once. */
const TRIGGER_SUGGEST = 'editor.action.triggerSuggest';

function lineText(doc: TextDocument, line: number): string {
  return doc.getText({ start: { line, character: 0 }, end: { line: line + 1, character: 0 } }).replace(/\r?\n$|\r$/, '');
}

/** An option line's parts, when the line names a known option. */
function optionAt(text: string, options: SeedOptions): { option: SeedOption; start: number; colon: number; end: number } | null {
  const content = stripComment(text);
  const m = OPTION_LINE.exec(content);
  const option = m ? optionNamed(options, m[2].toLowerCase()) : undefined;
  if (!m || !option) return null;
  return { option, start: m[1].length, colon: content.length - m[3].length - 1, end: content.trimEnd().length };
}

/**
 * The value of the `handler:` line among the option lines at the top, with its range: read on its
 * own (for the editor's link to the module) without parsing the file.
 */
export function handlerValue(doc: TextDocument, options: SeedOptions): { value: string; range: Range } | null {
  for (let line = 0; line < doc.lineCount; line++) {
    const text = lineText(doc, line);
    const content = stripComment(text);
    if (content.trim() === '') continue;
    const at = optionAt(text, options);
    // A line that is no option ends them: the URLs begin.
    if (at === null && optionLine(content) === null) return null;
    if (at?.option.key !== 'handler') continue;
    const start = at.colon + 1 + /^\s*/.exec(content.slice(at.colon + 1))![0].length;
    if (start >= at.end) return null;
    return { value: content.slice(start, at.end), range: { start: { line, character: start }, end: { line, character: at.end } } };
  }
  return null;
}

/**
 * Option keys at the top of the file, or an option's values after its colon, as `options` (with
 * the daemon's defaults) tell them. Asked on every
 * keystroke, so it reads the document's lines up to the first URL and no further: parsing the
 * whole file took 340-610 ms at 100,000 lines, on the daemon's one thread.
 */
export function completions(doc: TextDocument, pos: Position, options: SeedOptions): CompletionItem[] {
  const text = lineText(doc, pos.line);
  const content = stripComment(text);
  if (pos.character > content.length) return [];
  const at = optionAt(text, options);
  if (at && pos.character > at.colon) return valueItems(at.option, content, at.colon, pos);
  const word = /^(\s*)([A-Za-z0-9_-]*)/.exec(content)!;
  const wordStart = word[1].length;
  const wordEnd = wordStart + word[2].length;
  if (pos.character < wordStart || pos.character > wordEnd || content.includes('://')) return [];
  // Options go before the first URL; the line being typed may read as one meanwhile, so it is
  // skipped. Options given below it (still above the first URL) are not offered again.
  const given = new Set<string>();
  for (let line = 0; line < doc.lineCount; line++) {
    if (line === pos.line) continue;
    const lineContent = stripComment(lineText(doc, line));
    if (lineContent.trim() === '') continue;
    const opt = optionLine(lineContent);
    if (!opt) {
      if (line < pos.line) return [];
      break;
    }
    const option = optionNamed(options, opt[2].toLowerCase());
    if (option && option.kind !== 'list' && option.kind !== 'field') given.add(option.name);
  }
  const hasColon = at !== null || /^\s*:/.test(content.slice(wordEnd));
  const range: Range = { start: { line: pos.line, character: wordStart }, end: { line: pos.line, character: wordEnd } };
  return [...options.values()]
    .filter((o) => !given.has(o.name))
    .map((o, i): CompletionItem => ({
      label: o.name,
      kind: CompletionItemKind.Property,
      detail: `${o.range}; default ${o.default}`,
      documentation: { kind: MarkupKind.Markdown, value: optionMarkdown(o) },
      sortText: String(i).padStart(2, '0'),
      // A field option's key goes on with the field's name: `extract.` and the user types it.
      textEdit: { range, newText: o.kind === 'field' ? `${o.name}.` : hasColon ? o.name : `${o.name}: ` },
      ...(!hasColon && o.values.length > 0 && { command: { title: 'Suggest values', command: TRIGGER_SUGGEST } }),
    }));
}

/** The values of an option, replacing what is typed after its colon (a space added when none is). */
function valueItems(o: SeedOption, content: string, colon: number, pos: Position): CompletionItem[] {
  const valueStart = colon + 1 + /^\s*/.exec(content.slice(colon + 1))![0].length;
  const start = Math.min(valueStart, pos.character);
  const end = Math.max(content.trimEnd().length, pos.character);
  const range: Range = { start: { line: pos.line, character: start }, end: { line: pos.line, character: end } };
  const space = start === colon + 1 ? ' ' : '';
  return o.values.map((v, i): CompletionItem => ({
    label: v.value,
    kind: CompletionItemKind.EnumMember,
    detail: v.value === o.default ? 'default' : undefined,
    documentation: { kind: MarkupKind.Markdown, value: v.help },
    sortText: String(i).padStart(2, '0'),
    filterText: `${space}${v.value}`,
    textEdit: { range, newText: `${space}${v.value}` },
  }));
}

/** Help for the option on this line, anywhere on its key or value. */
export function optionHover(doc: TextDocument, pos: Position, options: SeedOptions): Hover | null {
  const at = optionAt(lineText(doc, pos.line), options);
  if (!at || pos.character < at.start || pos.character > at.end) return null;
  return {
    range: { start: { line: pos.line, character: at.start }, end: { line: pos.line, character: at.end } },
    contents: { kind: MarkupKind.Markdown, value: optionMarkdown(at.option) },
  };
}

/**
 * Quick fixes for the problems on the lines asked about: take out a bad line, a repeated URL (and
 * all of them at once when there are several), or the text after a URL. `file` must be parsed from
 * `doc` as it is: the edits are stamped with its version.
 */
export function quickFixes(doc: TextDocument, file: SeedFile, range: Range, sent: Diagnostic[], versioned: boolean): CodeAction[] {
  const edit = (edits: TextEdit[]): WorkspaceEdit =>
    versioned ? { documentChanges: [{ textDocument: { uri: doc.uri, version: doc.version }, edits }] } : { changes: { [doc.uri]: edits } };
  const removeLine = (line: number): TextEdit => ({
    range: { start: { line, character: 0 }, end: line + 1 < doc.lineCount ? { line: line + 1, character: 0 } : doc.positionAt(doc.getText().length) },
    newText: '',
  });
  const diagnosticOf = (p: SeedProblem) => sent.filter((d) => d.source === 'crawl' && d.message === p.message && d.range.start.line === p.line);
  const out: CodeAction[] = [];
  const here = file.problems.filter((p) => p.line >= range.start.line && p.line <= range.end.line);
  for (const p of here) {
    const diagnostics = diagnosticOf(p);
    if (p.fix === 'text') {
      // From the URL's end, so that no trailing space is left.
      const from = file.urls.find((u) => u.line === p.line)!.end;
      const cut = { range: { start: { line: p.line, character: from }, end: { line: p.line, character: p.end } }, newText: '' };
      out.push({ title: 'Remove the text after the URL', kind: CodeActionKind.QuickFix, diagnostics, edit: edit([cut]) });
    } else if (p.fix === 'duplicate') {
      out.push({
        title: `Remove this duplicate URL (${p.message})`,
        kind: CodeActionKind.QuickFix,
        diagnostics,
        isPreferred: true,
        edit: edit([removeLine(p.line)]),
      });
    } else if (p.fix === 'line') {
      out.push({ title: `Remove line ${p.line + 1}`, kind: CodeActionKind.QuickFix, diagnostics, edit: edit([removeLine(p.line)]) });
    }
  }
  const duplicates = file.problems.filter((p) => p.fix === 'duplicate');
  if (duplicates.length > 1 && here.some((p) => p.fix === 'duplicate')) {
    out.push({
      title: `Remove all ${duplicates.length} duplicate URLs`,
      kind: CodeActionKind.QuickFix,
      diagnostics: duplicates.flatMap(diagnosticOf),
      edit: edit(duplicates.map((p) => removeLine(p.line))),
    });
  }
  return out;
}

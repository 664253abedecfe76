/**
 * A stand-in for the `vscode` module, just enough of it for the Jobs tree's and the status bar's
 * logic to run under node:test. Importing this file makes `require('vscode')` return it, so it
 * must be imported before any client module.
 */
import Module = require('node:module');

const loader = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
const resolve = loader._resolveFilename;
loader._resolveFilename = function (request: string, ...rest: unknown[]): string {
  return request === 'vscode' ? __filename : resolve.call(this, request, ...rest);
};

export class ThemeColor {
  constructor(readonly id: string) {}
}

export class ThemeIcon {
  constructor(
    readonly id: string,
    readonly color?: ThemeColor,
  ) {}
}

export class MarkdownString {
  supportHtml = false;
  constructor(
    public value = '',
    public supportThemeIcons = false,
  ) {}
}

export enum TreeItemCollapsibleState {
  None = 0,
  Collapsed = 1,
  Expanded = 2,
}

export class TreeItem {
  id?: string;
  description?: string;
  tooltip?: string | MarkdownString;
  iconPath?: ThemeIcon;
  contextValue?: string;
  command?: { command: string; title: string; arguments?: unknown[] };
  accessibilityInformation?: { label: string; role?: string };
  constructor(
    readonly label: string,
    readonly collapsibleState = TreeItemCollapsibleState.None,
  ) {}
}

export interface Disposable {
  dispose(): void;
}

export class EventEmitter<T> {
  private listeners = new Set<(e: T) => void>();
  readonly event = (listener: (e: T) => void): Disposable => {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  };
  fire(e: T): void {
    for (const l of [...this.listeners]) l(e);
  }
  dispose(): void {
    this.listeners.clear();
  }
}

export enum StatusBarAlignment {
  Left = 1,
  Right = 2,
}

export class FakeStatusBarItem {
  text = '';
  name: string | undefined;
  tooltip: string | MarkdownString | undefined;
  backgroundColor: ThemeColor | undefined;
  command: unknown;
  accessibilityInformation: { label: string; role?: string } | undefined;
  visible = false;
  disposed = false;
  constructor(
    readonly id: string,
    readonly alignment: StatusBarAlignment,
    readonly priority: number,
  ) {}
  show(): void {
    this.visible = true;
  }
  hide(): void {
    this.visible = false;
  }
  dispose(): void {
    this.disposed = true;
  }
}

/** Every status bar item made, newest last, for the tests to inspect. */
export const statusBarItems: FakeStatusBarItem[] = [];

export const window = {
  createStatusBarItem(id: string, alignment: StatusBarAlignment, priority: number): FakeStatusBarItem {
    const item = new FakeStatusBarItem(id, alignment, priority);
    statusBarItems.push(item);
    return item;
  },
};

/** Workspace Trust and the open folders, as a test sets them. */
export const workspace: { isTrusted: boolean; workspaceFolders: { uri: { scheme: string; fsPath: string } }[] | undefined } = {
  isTrusted: true,
  workspaceFolders: undefined,
};

export const CancellationTokenNone = { isCancellationRequested: false, onCancellationRequested: () => ({ dispose() {} }) };

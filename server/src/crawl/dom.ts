/**
 * A page's document tree for selectors, built from the link extractor's tokens (links.ts), so a
 * crawl that extracts fields reads each page once. Nodes are domhandler's, the tree htmlparser2's
 * own DomHandler builds, so css-select (the engine under cheerio) runs on it as it is.
 *
 * Bounded whatever the page's shape, because a selector's cost grows with the tree:
 * - Elements nested deeper than MAX_DEPTH become siblings at that depth (their text stays theirs),
 *   as in Blink's parser (kMaximumHTMLParserDOMTreeDepth, 512): a descendant selector walks at
 *   most that many ancestors.
 * - Past MAX_NODES nodes the tree stops growing (`truncated`): what follows is not matched.
 */
import { Document, Element, Text, type ParentNode } from 'domhandler';

export const MAX_DEPTH = 512;
export const MAX_NODES = 100_000;

/** What elements past MAX_NODES are opened as: in no tree. */
const OUTSIDE = new Element('', {});

export class TreeBuilder {
  readonly document = new Document([]);
  /** The open elements, innermost last. */
  private readonly open: Element[] = [];
  private nodes = 0;
  private lastText: Text | null = null;
  truncated = false;

  /** An element opens; a void one (`<br>`, `<img>`) never has children, so it is not kept open. */
  openElement(name: string, attribs: ReadonlyMap<string, string>, isVoid: boolean): void {
    this.lastText = null;
    if (this.nodes >= MAX_NODES) {
      this.truncated = true;
      // Still opened, so that closing it closes the right one: one shared element outside the tree
      // (an object each for 3.4 million `<b>` took 800 MB).
      if (!isVoid) this.open.push(OUTSIDE);
      return;
    }
    // Without a prototype: an attribute named `constructor` or `__proto__` is a key like any other.
    const el = new Element(name, Object.assign(Object.create(null) as Record<string, string>, Object.fromEntries(attribs)));
    // Past the depth, a sibling of the deepest element instead of its child; text still goes in it.
    const depth = this.open.length;
    this.append(depth === 0 ? this.document : this.open[Math.min(depth, MAX_DEPTH - 1) - 1], el);
    if (!isVoid) this.open.push(el);
  }

  /** The innermost open element closes (the extractor's open elements decide which, and when). */
  close(): void {
    this.lastText = null;
    this.open.pop();
  }

  text(data: string): void {
    if (this.lastText !== null) {
      this.lastText.data += data;
      return;
    }
    if (this.nodes >= MAX_NODES) {
      this.truncated = true;
      return;
    }
    const parent = this.open.length === 0 ? this.document : this.open[this.open.length - 1];
    // Text of an element past the size has no place in the tree either.
    if (parent === OUTSIDE) return;
    this.lastText = new Text(data);
    this.append(parent, this.lastText);
  }

  private append(parent: ParentNode, child: Element | Text): void {
    this.nodes++;
    const siblings = parent.children;
    const prev = siblings.length === 0 ? null : siblings[siblings.length - 1];
    child.parent = parent;
    child.prev = prev;
    if (prev !== null) prev.next = child;
    siblings.push(child);
  }
}

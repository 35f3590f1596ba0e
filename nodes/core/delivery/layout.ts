/**
 * Lays the parsed tree out as chat text: styled runs per top-level block, the same for every
 * platform that shares this visual layout (Telegram HTML and its plain fallback first). Headings
 * become bold lines, lists `• item` / `1. item` lines indented by nesting, rules a line of dashes,
 * tables monospace text — chat clients render none of these natively.
 */
import type { Block, Inline } from './markdown';
import type { Mark, Run } from './types';
import { commonPrefix } from './runs';
import { displayWidth } from './display-width';

/** Links an agent may put in a reply; anything else (javascript:, data:, relative paths) stays text. */
export const SAFE_LINK = /^(https?:|tg:|mailto:)/i;

export interface LayoutOptions {
  allowLink?: (href: string) => boolean;
}

export const BULLET = '• ';
export const RULE = '———';

const NO_MARKS: readonly Mark[] = [];
const BOLD: Mark = { kind: 'bold' };
const ITALIC: Mark = { kind: 'italic' };
const STRIKE: Mark = { kind: 'strike' };
const CODE: Mark = { kind: 'code' };
const QUOTE: Mark = { kind: 'quote' };
const TABLE: Mark = { kind: 'pre', lang: '' };
const HAS_TEXT = /\S/;

/** The document as one run list per top-level block (blocks with nothing to read dropped). */
export function layoutBlocks(blocks: readonly Block[], opts: LayoutOptions = {}): Run[][] {
  const allowLink = opts.allowLink ?? ((href: string) => SAFE_LINK.test(href));
  const out: Run[][] = [];
  for (const block of blocks) {
    const writer = new LineWriter(allowLink);
    writer.block(block, NO_MARKS);
    if (writer.hasText) out.push(writer.runs);
  }
  return out;
}

/** A list item around the lines being written: its marker goes before its first line. */
interface Item {
  readonly marker: string;
  readonly indent: string;
  readonly ctx: readonly Mark[];
  used: boolean;
}

/**
 * Writes one top-level block line by line. A line starts with the prefixes of the list items
 * around it (the marker for an item's first line, its indent after) unless it is verbatim (inside a
 * code block: never indented); lines are joined by a newline carrying the block-level marks (quote,
 * pre) both lines share, so a `<pre>` or a quote stays one entity across its lines.
 */
class LineWriter {
  readonly runs: Run[] = [];
  hasText = false;
  private started = false;
  private lineCtx: readonly Mark[] = NO_MARKS;
  private readonly items: Item[] = [];

  constructor(private readonly allowLink: (href: string) => boolean) {}

  block(block: Block, ctx: readonly Mark[]): void {
    switch (block.type) {
      case 'paragraph':
        this.line(ctx);
        this.inline(block.children, ctx, ctx, false);
        return;
      case 'heading': {
        this.line(ctx);
        this.inline(block.children, ctx.concat(BOLD), ctx, false);
        return;
      }
      case 'code':
        this.verbatim(block.text.split('\n'), ctx.concat({ kind: 'pre', lang: block.lang }));
        return;
      case 'hr':
        this.line(ctx);
        this.text(RULE, ctx);
        return;
      case 'blockquote': {
        const inner = ctx.concat(QUOTE);
        for (let i = 0; i < block.children.length; i++) {
          if (i > 0) this.line(inner); // a blank line between the quote's paragraphs
          this.block(block.children[i], inner);
        }
        return;
      }
      case 'list':
        for (let index = 0; index < block.items.length; index++) {
          const marker = block.ordered ? `${block.start + index}. ` : BULLET;
          const item: Item = { marker, indent: ' '.repeat(marker.length), ctx, used: false };
          this.items.push(item);
          // Item blocks follow each other without blank lines: chat lists read better compact.
          for (const child of block.items[index]) this.block(child, ctx);
          if (!item.used) this.line(ctx); // an empty item still shows its marker
          this.items.pop();
        }
        return;
      case 'table':
        this.verbatim(tableText(block), ctx.concat(TABLE));
        return;
    }
  }

  /** Starts a line in the block-level context `ctx`. */
  private line(ctx: readonly Mark[], verbatim = false): void {
    // A code block as an item's first child: the marker gets a line of its own above it. (An
    // unused outer item has only unused items inside it, so the innermost one tells.)
    const innermost = this.items[this.items.length - 1];
    if (verbatim && innermost && !innermost.used) this.line(innermost.ctx);
    if (this.started) {
      const shared = commonPrefix(this.lineCtx, ctx);
      this.runs.push({ text: '\n', marks: shared === this.lineCtx.length ? this.lineCtx : this.lineCtx.slice(0, shared) });
    }
    this.started = true;
    this.lineCtx = ctx;
    if (verbatim) return;
    for (const item of this.items) {
      this.text(item.used ? item.indent : item.marker, item.ctx);
      item.used = true;
    }
  }

  private verbatim(lines: readonly string[], ctx: readonly Mark[]): void {
    for (const text of lines) {
      this.line(ctx, true);
      this.text(text, ctx);
    }
  }

  private text(text: string, marks: readonly Mark[]): void {
    if (!text) return;
    this.runs.push({ text, marks });
    if (!this.hasText && HAS_TEXT.test(text)) this.hasText = true;
  }

  /** Inline content; a line break starts a new line in the block context `ctx`. */
  private inline(nodes: readonly Inline[], marks: readonly Mark[], ctx: readonly Mark[], inLink: boolean): void {
    for (const node of nodes) {
      switch (node.type) {
        case 'text':
          if (node.text.includes('\n')) {
            const pieces = node.text.split('\n');
            for (let i = 0; i < pieces.length; i++) {
              if (i > 0) this.line(ctx);
              this.text(pieces[i], marks);
            }
          } else this.text(node.text, marks);
          break;
        case 'break':
          this.line(ctx);
          break;
        case 'code':
          this.text(node.text, marks.concat(CODE));
          break;
        case 'bold':
          this.inline(node.children, marks.concat(BOLD), ctx, inLink);
          break;
        case 'italic':
          this.inline(node.children, marks.concat(ITALIC), ctx, inLink);
          break;
        case 'strike':
          this.inline(node.children, marks.concat(STRIKE), ctx, inLink);
          break;
        case 'link': {
          const children: readonly Inline[] = node.children.length ? node.children : [{ type: 'text', text: node.href }];
          // Never a link inside a link (platforms refuse or mangle it): the outer one stands.
          const linked = !inLink && this.allowLink(node.href);
          this.inline(children, linked ? marks.concat({ kind: 'link', href: node.href }) : marks, ctx, inLink || linked);
          break;
        }
      }
    }
  }
}

/** A table as aligned monospace lines, columns padded to the same display width (CJK and emoji count 2). */
function tableText(block: Extract<Block, { type: 'table' }>): string[] {
  const cellText = (cell: Inline[]): string => flatten(cell).replace(/\s+/g, ' ').trim();
  const head = block.head.map(cellText);
  const rows = block.rows.map((row) => head.map((_, i) => cellText(row[i] ?? [])));
  const headWidths = head.map(displayWidth);
  const rowWidths = rows.map((row) => row.map(displayWidth));
  const widths = headWidths.map((w, i) => Math.max(w, ...rowWidths.map((row) => row[i]), 1));
  const pad = (s: string, width: number, i: number): string => {
    const gap = widths[i] - width;
    const align = block.align[i];
    if (align === 'right') return ' '.repeat(gap) + s;
    if (align === 'center') return ' '.repeat(Math.floor(gap / 2)) + s + ' '.repeat(Math.ceil(gap / 2));
    return s + ' '.repeat(gap);
  };
  const line = (cells: string[], cellWidths: number[]): string => cells.map((s, i) => pad(s, cellWidths[i], i)).join(' | ').trimEnd();
  return [line(head, headWidths), widths.map((w) => '-'.repeat(w)).join('-+-'), ...rows.map((row, r) => line(row, rowWidths[r]))];
}

function flatten(nodes: readonly Inline[]): string {
  let text = '';
  for (const node of nodes) {
    if (node.type === 'text' || node.type === 'code') text += node.text;
    else if (node.type === 'break') text += ' ';
    else text += flatten(node.children);
  }
  return text;
}

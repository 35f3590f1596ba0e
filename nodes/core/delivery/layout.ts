/**
 * Lays the parsed tree out as chat text: styled runs per top-level block, the same for every
 * platform that shares this visual layout (Telegram HTML and its plain fallback first). Headings
 * become bold lines, lists `• item` / `1. item` lines indented by nesting, rules a line of dashes,
 * tables monospace text — chat clients render none of these natively.
 */
import type { Block, Inline } from './markdown';
import type { Mark, Run } from './types';
import { commonPrefix } from './runs';

/** Links an agent may put in a reply; anything else (javascript:, data:, relative paths) stays text. */
export const SAFE_LINK = /^(https?:|tg:|mailto:)/i;

export interface LayoutOptions {
  allowLink?: (href: string) => boolean;
}

export const BULLET = '• ';
export const RULE = '———';

/** One output line: its runs and the block-level marks (quote, pre) it sits in. */
interface Line {
  runs: Run[];
  ctx: readonly Mark[];
  /** Inside a code block: never indented, never reflowed. */
  verbatim: boolean;
}

/** The document as one run list per top-level block (empty blocks dropped). */
export function layoutBlocks(blocks: readonly Block[], opts: LayoutOptions = {}): Run[][] {
  const allowLink = opts.allowLink ?? ((href: string) => SAFE_LINK.test(href));
  return blocks
    .map((block) => joinLines(blockLines(block, [], allowLink)))
    .filter((runs) => runs.some((run) => run.text.length > 0));
}

function blockLines(block: Block, ctx: readonly Mark[], allowLink: (href: string) => boolean): Line[] {
  switch (block.type) {
    case 'paragraph':
      return toLines(inlineRuns(block.children, ctx, allowLink), ctx);
    case 'heading':
      return toLines(inlineRuns(block.children, [...ctx, { kind: 'bold' }], allowLink), ctx);
    case 'code':
      return verbatimLines(block.text.split('\n'), [...ctx, { kind: 'pre', lang: block.lang }]);
    case 'hr':
      return [{ runs: [{ text: RULE, marks: ctx }], ctx, verbatim: false }];
    case 'blockquote': {
      const inner: readonly Mark[] = [...ctx, { kind: 'quote' }];
      const lines: Line[] = [];
      for (const child of block.children) {
        if (lines.length) lines.push({ runs: [], ctx: inner, verbatim: false });
        lines.push(...blockLines(child, inner, allowLink));
      }
      return lines;
    }
    case 'list':
      return listLines(block, ctx, allowLink);
    case 'table':
      return verbatimLines(tableText(block), [...ctx, { kind: 'pre', lang: '' }]);
  }
}

function listLines(block: Extract<Block, { type: 'list' }>, ctx: readonly Mark[], allowLink: (href: string) => boolean): Line[] {
  const lines: Line[] = [];
  block.items.forEach((item, index) => {
    const marker = block.ordered ? `${block.start + index}. ` : BULLET;
    const indent = ' '.repeat(marker.length);
    // Item blocks follow each other without blank lines: chat lists read better compact.
    const itemLines = item.flatMap((child) => blockLines(child, ctx, allowLink));
    if (!itemLines.length || itemLines[0].verbatim) itemLines.unshift({ runs: [], ctx, verbatim: false });
    itemLines.forEach((line, i) => {
      if (line.verbatim) lines.push(line);
      else lines.push({ ...line, runs: [{ text: i === 0 ? marker : indent, marks: ctx }, ...line.runs] });
    });
  });
  return lines;
}

function verbatimLines(texts: string[], ctx: readonly Mark[]): Line[] {
  return texts.map((text) => ({ runs: text ? [{ text, marks: ctx }] : [], ctx, verbatim: true }));
}

function inlineRuns(nodes: readonly Inline[], marks: readonly Mark[], allowLink: (href: string) => boolean): Run[] {
  const runs: Run[] = [];
  for (const node of nodes) {
    switch (node.type) {
      case 'text':
        if (node.text) runs.push({ text: node.text, marks });
        break;
      case 'break':
        runs.push({ text: '\n', marks });
        break;
      case 'code':
        if (node.text) runs.push({ text: node.text, marks: [...marks, { kind: 'code' }] });
        break;
      case 'bold':
      case 'italic':
      case 'strike':
        runs.push(...inlineRuns(node.children, [...marks, { kind: node.type }], allowLink));
        break;
      case 'link': {
        const children: Inline[] = node.children.length ? node.children : [{ type: 'text', text: node.href }];
        const inner: readonly Mark[] = allowLink(node.href) ? [...marks, { kind: 'link', href: node.href }] : marks;
        runs.push(...inlineRuns(children, inner, allowLink));
        break;
      }
    }
  }
  return runs;
}

/** Cuts inline runs at their line breaks so list items can indent continuation lines. */
function toLines(runs: Run[], ctx: readonly Mark[]): Line[] {
  const lines: Line[] = [{ runs: [], ctx, verbatim: false }];
  for (const run of runs) {
    const pieces = run.text.split('\n');
    pieces.forEach((piece, i) => {
      if (i > 0) lines.push({ runs: [], ctx, verbatim: false });
      if (piece) lines[lines.length - 1].runs.push({ text: piece, marks: run.marks });
    });
  }
  return lines;
}

/** Joins lines with newlines carrying the marks both sides share, so a `<pre>` or quote stays one entity. */
function joinLines(lines: readonly Line[]): Run[] {
  const runs: Run[] = [];
  lines.forEach((line, i) => {
    if (i > 0) {
      const prev = lines[i - 1].ctx;
      runs.push({ text: '\n', marks: prev.slice(0, commonPrefix(prev, line.ctx)) });
    }
    runs.push(...line.runs);
  });
  return runs;
}

function tableText(block: Extract<Block, { type: 'table' }>): string[] {
  const cellText = (cell: Inline[]): string => flatten(cell).replace(/\s+/g, ' ').trim();
  const head = block.head.map(cellText);
  const rows = block.rows.map((row) => head.map((_, i) => cellText(row[i] ?? [])));
  const width = (s: string): number => [...s].length;
  const widths = head.map((h, i) => Math.max(width(h), ...rows.map((row) => width(row[i])), 1));
  const pad = (s: string, i: number): string => {
    const gap = widths[i] - width(s);
    const align = block.align[i];
    if (align === 'right') return ' '.repeat(gap) + s;
    if (align === 'center') return ' '.repeat(Math.floor(gap / 2)) + s + ' '.repeat(Math.ceil(gap / 2));
    return s + ' '.repeat(gap);
  };
  const line = (cells: string[]): string => cells.map(pad).join(' | ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('-+-'), ...rows.map(line)];
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

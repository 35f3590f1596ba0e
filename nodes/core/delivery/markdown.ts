/**
 * Markdown parsed once into a small block/inline tree that every platform renderer walks.
 * Raw HTML is disabled so an agent (or a user it quotes) cannot smuggle markup into a reply: `<b>`
 * stays the four characters it was. Bare URLs become links, whole (see bare-urls.ts), instead of
 * markdown-it's own linkify, which lets emphasis eat the underscores of a URL.
 */
import MarkdownIt from 'markdown-it';
import { bareUrls } from './bare-urls';
type Token = MarkdownIt.Token;

export type Inline =
  | { type: 'text'; text: string }
  | { type: 'bold' | 'italic' | 'strike'; children: Inline[] }
  | { type: 'code'; text: string }
  | { type: 'link'; href: string; children: Inline[] }
  | { type: 'break' };

export type Align = 'left' | 'center' | 'right' | '';

export type Block =
  | { type: 'paragraph'; children: Inline[] }
  | { type: 'heading'; level: number; children: Inline[] }
  | { type: 'code'; lang: string; text: string }
  | { type: 'list'; ordered: boolean; start: number; items: Block[][] }
  | { type: 'blockquote'; children: Block[] }
  | { type: 'hr' }
  | { type: 'table'; align: Align[]; head: Inline[][]; rows: Inline[][][] };

const md = new MarkdownIt('default', { html: false, linkify: false, typographer: false }).use(bareUrls);

export function parseMarkdown(source: string): Block[] {
  const tokens = md.parse(source, {});
  const cursor = { i: 0 };
  return parseBlocks(tokens, cursor, undefined);
}

/** Reads blocks until the token of type `until` (the container's close) or the end. */
function parseBlocks(tokens: Token[], cursor: { i: number }, until: string | undefined): Block[] {
  const blocks: Block[] = [];
  while (cursor.i < tokens.length) {
    const token = tokens[cursor.i++];
    if (until && token.type === until) break;
    switch (token.type) {
      case 'paragraph_open':
        blocks.push({ type: 'paragraph', children: parseInline(tokens[cursor.i++]?.children ?? []) });
        cursor.i++; // paragraph_close
        break;
      case 'heading_open':
        blocks.push({
          type: 'heading',
          level: Number(token.tag.slice(1)) || 1,
          children: parseInline(tokens[cursor.i++]?.children ?? []),
        });
        cursor.i++; // heading_close
        break;
      case 'fence':
        blocks.push({ type: 'code', lang: token.info.trim().split(/\s+/)[0] ?? '', text: trimFinalNewline(token.content) });
        break;
      case 'code_block':
        blocks.push({ type: 'code', lang: '', text: trimFinalNewline(token.content) });
        break;
      case 'hr':
        blocks.push({ type: 'hr' });
        break;
      case 'blockquote_open':
        blocks.push({ type: 'blockquote', children: parseBlocks(tokens, cursor, 'blockquote_close') });
        break;
      case 'bullet_list_open':
      case 'ordered_list_open': {
        const ordered = token.type === 'ordered_list_open';
        const start = ordered ? Number(token.attrGet('start') ?? 1) : 1;
        blocks.push({ type: 'list', ordered, start: Number.isFinite(start) ? start : 1, items: parseItems(tokens, cursor, ordered) });
        break;
      }
      case 'table_open':
        blocks.push(parseTable(tokens, cursor));
        break;
      default:
        // html_block cannot occur (html is off); anything unknown is skipped rather than guessed at.
        break;
    }
  }
  return blocks;
}

function parseItems(tokens: Token[], cursor: { i: number }, ordered: boolean): Block[][] {
  const close = ordered ? 'ordered_list_close' : 'bullet_list_close';
  const items: Block[][] = [];
  while (cursor.i < tokens.length) {
    const token = tokens[cursor.i++];
    if (token.type === close) break;
    if (token.type === 'list_item_open') items.push(parseBlocks(tokens, cursor, 'list_item_close'));
  }
  return items;
}

function parseTable(tokens: Token[], cursor: { i: number }): Block {
  const align: Align[] = [];
  const head: Inline[][] = [];
  const rows: Inline[][][] = [];
  let row: Inline[][] | undefined;
  let inHead = false;
  while (cursor.i < tokens.length) {
    const token = tokens[cursor.i++];
    if (token.type === 'table_close') break;
    if (token.type === 'thead_open') inHead = true;
    else if (token.type === 'thead_close') inHead = false;
    else if (token.type === 'tr_open') row = [];
    else if (token.type === 'tr_close' && row) {
      if (!inHead) rows.push(row);
      row = undefined;
    } else if (token.type === 'th_open' || token.type === 'td_open') {
      const cell = parseInline(tokens[cursor.i]?.type === 'inline' ? tokens[cursor.i++].children ?? [] : []);
      if (inHead) {
        head.push(cell);
        align.push(alignOf(token));
      } else row?.push(cell);
    }
  }
  return { type: 'table', align, head, rows };
}

function alignOf(token: Token): Align {
  const match = /text-align:\s*(left|center|right)/.exec(attr(token, 'style'));
  return (match?.[1] as Align | undefined) ?? '';
}

type Container = Extract<Inline, { children: Inline[] }>;

function parseInline(tokens: Token[]): Inline[] {
  const root: Inline[] = [];
  // Each open token pushes a container; its close pops it, so nesting follows the source.
  const stack: Inline[][] = [root];
  let top = root;
  // Links open on the stack: chat platforms cannot nest a link in a link, so inner ones flatten.
  let linkDepth = 0;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    let opened: Container | undefined;
    switch (token.type) {
      case 'text':
      case 'text_special':
      case 'html_inline':
        pushText(top, token.content);
        break;
      case 'softbreak':
      case 'hardbreak':
        top.push(BREAK);
        break;
      case 'code_inline':
        top.push({ type: 'code', text: token.content });
        break;
      case 'strong_open':
        opened = { type: 'bold', children: [] };
        break;
      case 'em_open':
        opened = { type: 'italic', children: [] };
        break;
      case 's_open':
        opened = { type: 'strike', children: [] };
        break;
      case 'link_open':
        opened = { type: 'link', href: attr(token, 'href'), children: [] };
        linkDepth++;
        break;
      case 'link_close':
      case 'strong_close':
      case 'em_close':
      case 's_close':
        if (token.type === 'link_close') linkDepth--;
        if (stack.length > 1) {
          stack.pop();
          top = stack[stack.length - 1];
        }
        break;
      case 'image': {
        // Chat messages cannot inline an image; a link to it (named by its alt text) keeps the
        // content. Inside a link (a README badge: [![build](badge.svg)](ci)) the alt text is the
        // outer link's label, so the reader gets one link, to where the badge pointed.
        const src = attr(token, 'src');
        if (linkDepth > 0) pushText(top, token.content);
        else top.push({ type: 'link', href: src, children: [{ type: 'text', text: token.content || src }] });
        break;
      }
      default:
        if (token.content) pushText(top, token.content);
    }
    if (opened) {
      top.push(opened);
      stack.push(opened.children);
      top = opened.children;
    }
  }
  return root;
}

const BREAK: Inline = { type: 'break' };

function pushText(into: Inline[], text: string): void {
  if (!text) return;
  const last = into[into.length - 1];
  if (last?.type === 'text') last.text += text;
  else into.push({ type: 'text', text });
}

function attr(token: Token, name: string): string {
  const value = token.attrGet(name);
  return value === null ? '' : String(value);
}

function trimFinalNewline(text: string): string {
  return text.endsWith('\n') ? text.slice(0, -1) : text;
}

/**
 * Bare URLs (`https://example.com/_private_/x`, `www.example.com/a_b_`, `me@example.com`) become
 * links, whole and unformatted: the `_` or `*` inside them is never emphasis, so the reader sees,
 * and Telegram links, the address that was written. A bare host without `www.` (`example.com/x`)
 * is not taken for a URL: linkify-it's fuzzy matching would also take `README.md` or `config.py`
 * for one, and costs as much again as the whole parse; `www.` is a linkify-it schema here instead.
 *
 * markdown-it's own linkify cannot promise that: its core rule runs after inline parsing, when
 * `_private_` has already become italics, and its inline rule (markdown-it 14+) only fires at
 * `://`, so `www.` and e-mail addresses still lose their underscores. Here linkify-it (markdown-it's
 * own `md.linkify`) finds every URL of an inline block before it is parsed, and the inline parser
 * is made to stop at each URL's first character, where the `bare_url` rule takes the URL whole.
 * Raw HTML stays disabled; which schemes may become links is the layout's SAFE_LINK policy.
 */
import type MarkdownIt from 'markdown-it';

type StateInline = MarkdownIt.StateInline;
type Md = MarkdownIt.MarkdownIt;

interface Found {
  readonly index: number;
  readonly lastIndex: number;
  readonly schema: string;
  /** Normalised: `http://` put before a `www.` address, `mailto:` before an e-mail address. */
  readonly url: string;
}

/**
 * The URLs of the inline block being parsed. Blocks are parsed one at a time, so one entry is
 * enough; it is keyed by what the URLs depend on (the parser and the block's source), so it holds
 * on to no parser state.
 */
let cached: { md: Md | undefined; src: string; urls: Found[] } = { md: undefined, src: '', urls: [] };

function urlsOf(state: StateInline): Found[] {
  if (cached.src !== state.src || cached.md !== state.md) {
    const linkify = state.md.linkify;
    cached = { md: state.md, src: state.src, urls: linkify.test(state.src) ? (linkify.match(state.src) ?? []) : [] };
  }
  return cached.urls;
}

/** The first URL starting at or after `pos`, by binary search (positions move back in link labels). */
function nextUrl(urls: readonly Found[], pos: number): Found | undefined {
  let lo = 0;
  let hi = urls.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (urls[mid].index < pos) lo = mid + 1;
    else hi = mid;
  }
  return urls[lo];
}

/** markdown-it's characters that may start inline syntax; plain text runs up to the next one. */
function isTerminator(code: number): boolean {
  switch (code) {
    case 0x0a: case 0x21: case 0x23: case 0x24: case 0x25: case 0x26: case 0x2a: case 0x2b: case 0x2d:
    case 0x3a: case 0x3c: case 0x3d: case 0x40: case 0x5b: case 0x5c: case 0x5d: case 0x5e: case 0x5f:
    case 0x60: case 0x7b: case 0x7d: case 0x7e:
      return true;
    default:
      return false;
  }
}

/** markdown-it's `text` rule, stopping also at the start of the next URL. */
function textUpToUrl(state: StateInline, silent: boolean): boolean {
  const start = state.pos;
  const url = nextUrl(urlsOf(state), start);
  const max = url ? Math.min(state.posMax, url.index) : state.posMax;
  let pos = start;
  while (pos < max && !isTerminator(state.src.charCodeAt(pos))) pos++;
  if (pos === start) return false;
  if (!silent) state.pending += state.src.slice(start, pos);
  state.pos = pos;
  return true;
}

function bareUrl(state: StateInline, silent: boolean): boolean {
  if (state.linkLevel > 0) return false; // inside a link's label: that link is the link
  const urls = urlsOf(state);
  if (!urls.length) return false;
  const found = nextUrl(urls, state.pos);
  if (!found || found.index !== state.pos) return false;
  const whole = found.lastIndex - found.index;
  // As markdown-it's inline linkify: `**https://x**` keeps its closing stars for the bold.
  let end = whole;
  while (end > 0 && state.src.charCodeAt(found.index + end - 1) === 0x2a) end--;
  if (end === 0 || state.pos + end > state.posMax) return false;
  const raw = state.src.slice(found.index, found.index + end);
  const url = found.url.slice(0, found.url.length - (whole - end));
  const href = state.md.normalizeLink(url);
  if (!state.md.validateLink(href)) return false;
  if (!silent) {
    const open = state.push('link_open', 'a', 1);
    open.attrs = [['href', href]];
    open.markup = 'linkify';
    open.info = 'auto';
    state.push('text', '', 0).content = linkText(state.md, found.schema, raw);
    const close = state.push('link_close', 'a', -1);
    close.markup = 'linkify';
    close.info = 'auto';
  }
  state.pos += end;
  return true;
}

/** The label as markdown-it's linkify writes it (punycode decoded, scheme as written). */
function linkText(md: Md, schema: string, raw: string): string {
  if (!schema || schema === WWW) return md.normalizeLinkText(`http://${raw}`).replace(/^http:\/\//, '');
  if (schema === 'mailto:' && !/^mailto:/i.test(raw)) return md.normalizeLinkText(`mailto:${raw}`).replace(/^mailto:/, '');
  return md.normalizeLinkText(raw);
}

const WWW = 'www.';

/** `www.example.com/...`: what the `http:` schema takes after `//`, with `http://` put before it. */
function addWwwSchema(linkify: Md['linkify']): void {
  let validator: RegExp | undefined;
  linkify.add(WWW, {
    validate: (text, pos, self) => {
      validator ??= new RegExp(self.re.get_url_host_port().source + self.re.get_path().source, 'iy');
      validator.lastIndex = pos;
      return validator.exec(text)?.[0].length ?? 0;
    },
    normalize: (match) => {
      match.url = `http://${match.url}`;
    },
  });
}

/** The plugin: `md.use(bareUrls)`. markdown-it's own `linkify` option should stay off. */
export function bareUrls(md: Md): void {
  md.linkify.set({ fuzzyLink: false, fuzzyEmail: true });
  addWwwSchema(md.linkify);
  md.inline.ruler.at('text', textUpToUrl);
  md.inline.ruler.before('text', 'bare_url', bareUrl);
}

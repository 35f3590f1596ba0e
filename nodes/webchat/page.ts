/**
 * The chat page: static files read once from static/, and index.html filled in with the page
 * title, its own base path and the translated page strings. The page takes every user-visible
 * word from those strings, so a translated catalog translates the page too.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const STATIC_DIR = path.join(__dirname, 'static');

export const ASSETS = {
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
} as const;
export type AssetName = keyof typeof ASSETS;

/** Keys under `webchat-in.page` in the catalog that the page uses. */
export const PAGE_STRING_KEYS = [
  'lang',
  'placeholder',
  'send',
  'connecting',
  'connected',
  'reconnecting',
  'offline',
  'typing',
  'notSent',
  'sending',
  'empty',
  'conversation',
] as const;

/** Content Security Policy for the page: its own script and style only, no inline code, no frames. */
export const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'";

export function readAsset(name: AssetName | 'index.html'): string {
  return fs.readFileSync(path.join(STATIC_DIR, name), 'utf8');
}

/** The English catalog, for strings a runtime without translations (the test helper) returns as keys. */
function englishPageStrings(): Record<string, string> {
  try {
    const file = path.join(__dirname, 'locales', 'en-US', 'webchat-in.json');
    const catalog = JSON.parse(fs.readFileSync(file, 'utf8')) as { 'webchat-in'?: { page?: Record<string, string> } };
    return catalog['webchat-in']?.page ?? {};
  } catch {
    return {};
  }
}

export function pageStrings(translate: (key: string) => string): Record<string, string> {
  const english = englishPageStrings();
  const out: Record<string, string> = {};
  for (const k of PAGE_STRING_KEYS) {
    const key = `webchat-in.page.${k}`;
    const t = translate(key);
    out[k] = t && t !== key ? t : (english[k] ?? k);
  }
  return out;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON placed inside a <script type="application/json"> block: `<` escaped so `</script>` cannot end it. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

export function renderIndex(template: string, opts: { title: string; base: string; strings: Record<string, string> }): string {
  const fill: Record<string, string> = {
    title: escapeHtml(opts.title),
    base: escapeHtml(opts.base),
    lang: escapeHtml(opts.strings.lang || 'en'),
    strings: scriptJson(opts.strings),
  };
  return template.replace(/\{\{(title|base|lang|strings)\}\}/g, (_m, k: string) => fill[k]);
}

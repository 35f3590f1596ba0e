/**
 * The Cloud API's checks on a send body, and what a valid one shows on the phone. Every refusal is
 * Meta's error 100 with `error_data.details` naming the field (`Param text.body must be at most
 * 4096 characters long.`), except an unknown message type (131051) and templates (132001 unknown
 * name or language, 132000 wrong parameter count).
 *
 * Lengths are counted in UTF-16 code units (JavaScript's .length), never less than what Meta
 * counts: a splitter that passes here passes on WhatsApp.
 */
import { invalid, metaError, required } from './errors';
import type { MediaRecord } from './state';
import type { Json, PhoneItem, PhoneMedia, TemplateSpec } from './types';

export const TEXT_LIMIT = 4096;
export const CAPTION_LIMIT = 1024;
export const LIMITS = {
  text: TEXT_LIMIT,
  caption: CAPTION_LIMIT,
  buttonBody: 1024,
  listBody: 4096,
  headerText: 60,
  footerText: 60,
  buttons: 3,
  buttonId: 256,
  buttonTitle: 20,
  listButton: 20,
  sections: 10,
  rows: 10,
  sectionTitle: 24,
  rowId: 200,
  rowTitle: 24,
  rowDescription: 72,
} as const;

export const MEDIA_TYPES = ['image', 'video', 'audio', 'document', 'sticker'] as const;
const CAPTIONED = new Set(['image', 'video', 'document']);
const SEND_TYPES = new Set(['text', ...MEDIA_TYPES, 'interactive', 'template', 'reaction', 'location', 'contacts']);

/** What a send shows, before it is given an id, a time and a status. */
export type Shown = Omit<PhoneItem, 'id' | 'at' | 'status' | 'addressedBy'>;

export interface SendContext {
  media(id: string): MediaRecord | undefined;
  templates: TemplateSpec[];
  knownMessage(id: string): boolean;
}

const isObj = (v: unknown): v is Json => !!v && typeof v === 'object' && !Array.isArray(v);

function obj(v: unknown, field: string): Json {
  if (v === undefined || v === null) throw required(field);
  if (!isObj(v)) throw invalid(field, 'must be an object.');
  return v;
}

function str(v: unknown, field: string, max: number, opts: { optional?: boolean; allowEmpty?: boolean } = {}): string | undefined {
  if (v === undefined || v === null) {
    if (opts.optional) return undefined;
    throw required(field);
  }
  if (typeof v !== 'string') throw invalid(field, 'must be a string.');
  if (!opts.allowEmpty && v.trim() === '') throw invalid(field, 'must not be empty.');
  if (v.length > max) throw invalid(field, `must be at most ${max} characters long.`);
  return v;
}

function textOf(body: Json): Shown {
  const text = obj(body.text, 'text');
  const t = str(text.body, 'text.body', TEXT_LIMIT) as string;
  if (text.preview_url !== undefined && typeof text.preview_url !== 'boolean') throw invalid('text.preview_url', 'must be a boolean.');
  return { type: 'text', text: t, ...(text.preview_url !== undefined ? { previewUrl: text.preview_url as boolean } : {}) };
}

function mediaOf(type: string, body: Json, ctx: SendContext, prefix = ''): Shown {
  const f = `${prefix}${type}`;
  const m = obj(body[type], f);
  const hasLink = m.link !== undefined;
  const hasId = m.id !== undefined;
  if (hasLink === hasId) throw invalid(f, hasLink ? 'must have either link or id, not both.' : 'must have either link or id.');
  const media: PhoneMedia = {};
  if (hasLink) {
    const link = str(m.link, `${f}.link`, 2048) as string;
    if (!/^https?:\/\/[^\s/]+/i.test(link)) throw invalid(`${f}.link`, 'must be a valid http(s) URL.');
    media.link = link;
  } else {
    const id = m.id;
    if (typeof id !== 'string' || !/^\d+$/.test(id)) throw invalid(`${f}.id`, 'must be a media id.');
    const rec = ctx.media(id);
    if (!rec) throw invalid(`${f}.id`, `(${id}) is not a valid media id.`);
    Object.assign(media, { id, mimeType: rec.mimeType, bytes: rec.bytes, ...(rec.filename !== undefined ? { filename: rec.filename } : {}) });
  }
  if (m.caption !== undefined) {
    if (!CAPTIONED.has(type)) throw invalid(`${f}.caption`, `is not supported for ${type} messages.`);
    media.caption = str(m.caption, `${f}.caption`, CAPTION_LIMIT, { allowEmpty: true });
  }
  if (m.filename !== undefined) {
    if (type !== 'document') throw invalid(`${f}.filename`, `is not supported for ${type} messages.`);
    media.filename = str(m.filename, `${f}.filename`, 240);
  }
  return { type, ...(media.caption ? { text: media.caption } : {}), media };
}

function headerOf(h: unknown, kind: string, ctx: SendContext): string | undefined {
  if (h === undefined) return undefined;
  const header = obj(h, 'interactive.header');
  const t = header.type;
  const allowed = kind === 'button' ? ['text', 'image', 'video', 'document'] : ['text'];
  if (typeof t !== 'string' || !allowed.includes(t)) throw invalid('interactive.header.type', `must be one of ${allowed.join(', ')}.`);
  if (t === 'text') return str(header.text, 'interactive.header.text', LIMITS.headerText);
  const shown = mediaOf(t, header, ctx, 'interactive.header.');
  return shown.media?.filename ?? shown.media?.link ?? shown.media?.id;
}

function interactiveOf(body: Json, ctx: SendContext): Shown {
  const it = obj(body.interactive, 'interactive');
  const kind = it.type;
  if (kind !== 'button' && kind !== 'list' && kind !== 'cta_url') throw invalid('interactive.type', 'must be one of button, list, cta_url.');
  const b = obj(it.body, 'interactive.body');
  const text = str(b.text, 'interactive.body.text', kind === 'list' ? LIMITS.listBody : LIMITS.buttonBody) as string;
  const header = headerOf(it.header, kind, ctx);
  let footer: string | undefined;
  if (it.footer !== undefined) footer = str(obj(it.footer, 'interactive.footer').text, 'interactive.footer.text', LIMITS.footerText);
  const action = obj(it.action, 'interactive.action');
  const shown: Shown = { type: 'interactive', interactiveType: kind, text, ...(header !== undefined ? { header } : {}), ...(footer !== undefined ? { footer } : {}) };

  if (kind === 'button') {
    const buttons = action.buttons;
    if (!Array.isArray(buttons)) throw required('interactive.action.buttons');
    if (buttons.length < 1 || buttons.length > LIMITS.buttons) throw invalid('interactive.action.buttons', `must have between 1 and ${LIMITS.buttons} buttons (got ${buttons.length}).`);
    const out: Array<{ id: string; title: string }> = [];
    buttons.forEach((raw, i) => {
      const p = `interactive.action.buttons[${i}]`;
      const bt = obj(raw, p);
      if (bt.type !== 'reply') throw invalid(`${p}.type`, 'must be reply.');
      const reply = obj(bt.reply, `${p}.reply`);
      const id = str(reply.id, `${p}.reply.id`, LIMITS.buttonId) as string;
      const title = str(reply.title, `${p}.reply.title`, LIMITS.buttonTitle) as string;
      if (out.some((o) => o.id === id)) throw invalid(`${p}.reply.id`, `must be unique (duplicate "${id}").`);
      if (out.some((o) => o.title === title)) throw invalid(`${p}.reply.title`, `must be unique (duplicate "${title}").`);
      out.push({ id, title });
    });
    shown.buttons = out;
    return shown;
  }

  if (kind === 'cta_url') {
    if (action.name !== 'cta_url') throw invalid('interactive.action.name', 'must be cta_url.');
    const params = obj(action.parameters, 'interactive.action.parameters');
    const displayText = str(params.display_text, 'interactive.action.parameters.display_text', LIMITS.buttonTitle) as string;
    const url = str(params.url, 'interactive.action.parameters.url', 2048) as string;
    if (!/^https?:\/\//i.test(url)) throw invalid('interactive.action.parameters.url', 'must be a valid http(s) URL.');
    shown.cta = { displayText, url };
    return shown;
  }

  const button = str(action.button, 'interactive.action.button', LIMITS.listButton) as string;
  const sections = action.sections;
  if (!Array.isArray(sections)) throw required('interactive.action.sections');
  if (sections.length < 1 || sections.length > LIMITS.sections) throw invalid('interactive.action.sections', `must have between 1 and ${LIMITS.sections} sections (got ${sections.length}).`);
  const rows: Array<{ id: string; title: string; description?: string }> = [];
  sections.forEach((rawSection, si) => {
    const sp = `interactive.action.sections[${si}]`;
    const section = obj(rawSection, sp);
    str(section.title, `${sp}.title`, LIMITS.sectionTitle, { optional: sections.length === 1 });
    if (!Array.isArray(section.rows) || section.rows.length === 0) throw invalid(`${sp}.rows`, 'must have at least 1 row.');
    section.rows.forEach((rawRow, ri) => {
      const rp = `${sp}.rows[${ri}]`;
      const row = obj(rawRow, rp);
      const id = str(row.id, `${rp}.id`, LIMITS.rowId) as string;
      const title = str(row.title, `${rp}.title`, LIMITS.rowTitle) as string;
      const description = str(row.description, `${rp}.description`, LIMITS.rowDescription, { optional: true });
      if (rows.some((r) => r.id === id)) throw invalid(`${rp}.id`, `must be unique (duplicate "${id}").`);
      rows.push({ id, title, ...(description !== undefined ? { description } : {}) });
    });
  });
  if (rows.length > LIMITS.rows) throw invalid('interactive.action.sections', `must have at most ${LIMITS.rows} rows in all (got ${rows.length}).`);
  shown.list = { button, rows };
  return shown;
}

function templateOf(body: Json, ctx: SendContext): Shown {
  const t = obj(body.template, 'template');
  const name = str(t.name, 'template.name', 512) as string;
  const lang = obj(t.language, 'template.language');
  const code = str(lang.code, 'template.language.code', 20) as string;
  const spec = ctx.templates.find((x) => x.name === name && x.language === code);
  if (!spec) throw metaError(132001, { details: `template name (${name}) does not exist in ${code}` });
  const params: string[] = [];
  if (t.components !== undefined) {
    if (!Array.isArray(t.components)) throw invalid('template.components', 'must be an array.');
    t.components.forEach((raw, i) => {
      const c = obj(raw, `template.components[${i}]`);
      if (typeof c.type !== 'string' || !['header', 'body', 'button', 'footer'].includes(c.type.toLowerCase())) throw invalid(`template.components[${i}].type`, 'must be one of header, body, button.');
      if (c.type.toLowerCase() !== 'body' || c.parameters === undefined) return;
      if (!Array.isArray(c.parameters)) throw invalid(`template.components[${i}].parameters`, 'must be an array.');
      c.parameters.forEach((rawP, j) => {
        const p = obj(rawP, `template.components[${i}].parameters[${j}]`);
        if (p.type === 'text') params.push(str(p.text, `template.components[${i}].parameters[${j}].text`, 32768, { allowEmpty: false }) as string);
        else params.push(String(p[String(p.type)] !== undefined ? JSON.stringify(p[String(p.type)]) : ''));
      });
    });
  }
  if (spec.params !== undefined && params.length !== spec.params) {
    throw metaError(132000, { details: `body: number of localizable_params (${params.length}) does not match the expected number of params (${spec.params})` });
  }
  const text = spec.body?.replace(/\{\{(\d+)\}\}/g, (m, n: string) => params[Number(n) - 1] ?? m);
  return {
    type: 'template',
    template: { name, language: code, params },
    ...(text !== undefined ? { text } : {}),
    ...(spec.quickReplies?.length ? { buttons: spec.quickReplies.map((title) => ({ id: title, title })) } : {}),
  };
}

function reactionOf(body: Json, ctx: SendContext): Shown {
  const r = obj(body.reaction, 'reaction');
  const messageId = str(r.message_id, 'reaction.message_id', 512) as string;
  if (!ctx.knownMessage(messageId)) throw invalid('reaction.message_id', `(${messageId}) is not a message in this chat.`);
  if (typeof r.emoji !== 'string') throw required('reaction.emoji');
  if ([...r.emoji].length > 8) throw invalid('reaction.emoji', 'must be a single emoji.');
  return { type: 'reaction', reaction: { messageId, emoji: r.emoji } };
}

function locationOf(body: Json): Shown {
  const l = obj(body.location, 'location');
  const lat = l.latitude;
  const lon = l.longitude;
  const num = (v: unknown, f: string, lim: number): number => {
    const n = typeof v === 'string' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isFinite(n) || Math.abs(n) > lim) throw invalid(f, 'must be a number.');
    return n;
  };
  const name = str(l.name, 'location.name', 1000, { optional: true });
  const address = str(l.address, 'location.address', 1000, { optional: true });
  return { type: 'location', location: { latitude: num(lat, 'location.latitude', 90), longitude: num(lon, 'location.longitude', 180), ...(name !== undefined ? { name } : {}), ...(address !== undefined ? { address } : {}) } };
}

function contactsOf(body: Json): Shown {
  const c = body.contacts;
  if (!Array.isArray(c) || c.length === 0) throw required('contacts');
  c.forEach((x, i) => {
    const o = obj(x, `contacts[${i}]`);
    str(obj(o.name, `contacts[${i}].name`).formatted_name, `contacts[${i}].name.formatted_name`, 1000);
  });
  return { type: 'contacts', contacts: c as Json[] };
}

/** Checks a send body (not a read receipt) and returns what it shows; throws Meta's error. */
export function checkSend(body: Json, ctx: SendContext): Shown {
  const type = body.type === undefined ? 'text' : body.type;
  if (typeof type !== 'string') throw invalid('type', 'must be a string.');
  if (!SEND_TYPES.has(type)) throw metaError(131051, { details: `Message type ${type} is not currently supported.` });
  let shown: Shown;
  if (type === 'text') shown = textOf(body);
  else if ((MEDIA_TYPES as readonly string[]).includes(type)) shown = mediaOf(type, body, ctx);
  else if (type === 'interactive') shown = interactiveOf(body, ctx);
  else if (type === 'template') shown = templateOf(body, ctx);
  else if (type === 'reaction') shown = reactionOf(body, ctx);
  else if (type === 'location') shown = locationOf(body);
  else shown = contactsOf(body);
  if (body.context !== undefined) {
    const c = obj(body.context, 'context');
    shown.contextId = str(c.message_id, 'context.message_id', 512);
  }
  return shown;
}

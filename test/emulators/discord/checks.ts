/**
 * Discord's checks on what a bot sends, with Discord's error shapes: `Invalid Form Body` (50035)
 * with the nested `errors` tree (`{content: {_errors: [{code, message}]}}`), the empty-message
 * error (50006), and who a message would notify given its `allowed_mentions`.
 *
 * Lengths are counted in UTF-16 code units (JavaScript's .length), which is never less than what
 * Discord counts: a splitter that passes here passes on Discord.
 */
import type { Json, Ping } from './types';

export const CONTENT_LIMIT = 2000;

export interface ApiFailure {
  status: number;
  body: Json;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: Json,
  ) {
    super(String(body.message));
  }
}

export const apiError = (status: number, code: number, message: string, extra: Json = {}): ApiError => new ApiError(status, { message, code, ...extra });

export const ERRORS = {
  unauthorized: () => apiError(401, 0, '401: Unauthorized'),
  notFound: () => apiError(404, 0, '404: Not Found'),
  methodNotAllowed: () => apiError(405, 0, '405: Method Not Allowed'),
  unknownChannel: () => apiError(404, 10003, 'Unknown Channel'),
  unknownGuild: () => apiError(404, 10004, 'Unknown Guild'),
  unknownMessage: () => apiError(404, 10008, 'Unknown Message'),
  unknownUser: () => apiError(404, 10013, 'Unknown User'),
  unknownWebhook: () => apiError(404, 10015, 'Unknown Webhook'),
  unknownInteraction: () => apiError(404, 10062, 'Unknown interaction'),
  unknownCommand: () => apiError(404, 10063, 'Unknown application command'),
  cannotEditOthers: () => apiError(403, 50005, 'Cannot edit a message authored by another user'),
  emptyMessage: () => apiError(400, 50006, 'Cannot send an empty message'),
  missingPermissions: () => apiError(403, 50013, 'Missing Permissions'),
  invalidWebhookToken: () => apiError(401, 50027, 'Invalid Webhook Token'),
  alreadyAcknowledged: () => apiError(400, 40060, 'Interaction has already been acknowledged.'),
  tooLarge: () => apiError(413, 40005, 'Request entity too large'),
  maxCommands: () => apiError(400, 30032, 'Maximum number of application commands reached (100)'),
};

/** Collects field errors into Discord's nested tree; `fail()` throws the 400 when there are any. */
export class FormErrors {
  readonly tree: Json = {};
  private count = 0;

  add(path: Array<string | number>, code: string, message: string): void {
    let node = this.tree;
    for (const p of path) {
      const k = String(p);
      node[k] ??= {};
      node = node[k] as Json;
    }
    ((node._errors ??= []) as Json[]).push({ code, message });
    this.count += 1;
  }

  get any(): boolean {
    return this.count > 0;
  }

  fail(): void {
    if (this.any) throw apiError(400, 50035, 'Invalid Form Body', { errors: this.tree });
  }
}

function maxLen(errs: FormErrors, path: Array<string | number>, v: unknown, max: number): void {
  if (typeof v === 'string' && v.length > max) errs.add(path, 'BASE_TYPE_MAX_LENGTH', `Must be ${max} or fewer in length.`);
}

/** embed size as Discord counts it for the 6,000 total: title, description, fields, footer, author. */
export function embedSize(e: Json): number {
  let n = 0;
  const s = (v: unknown): number => (typeof v === 'string' ? v.length : 0);
  n += s(e.title) + s(e.description);
  n += s((e.footer as Json | undefined)?.text) + s((e.author as Json | undefined)?.name);
  if (Array.isArray(e.fields)) for (const f of e.fields as Json[]) n += s(f.name) + s(f.value);
  return n;
}

function checkEmbeds(errs: FormErrors, embeds: unknown): void {
  if (embeds === undefined || embeds === null) return;
  if (!Array.isArray(embeds)) return errs.add(['embeds'], 'ARRAY_TYPE_CONVERT', 'Only iterables may be used in a ListType');
  if (embeds.length > 10) errs.add(['embeds'], 'BASE_TYPE_MAX_LENGTH', 'Must be 10 or fewer in length.');
  let total = 0;
  embeds.forEach((raw, i) => {
    const e = (raw ?? {}) as Json;
    maxLen(errs, ['embeds', i, 'title'], e.title, 256);
    maxLen(errs, ['embeds', i, 'description'], e.description, 4096);
    maxLen(errs, ['embeds', i, 'footer', 'text'], (e.footer as Json | undefined)?.text, 2048);
    maxLen(errs, ['embeds', i, 'author', 'name'], (e.author as Json | undefined)?.name, 256);
    if (Array.isArray(e.fields)) {
      if (e.fields.length > 25) errs.add(['embeds', i, 'fields'], 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
      (e.fields as Json[]).forEach((f, j) => {
        maxLen(errs, ['embeds', i, 'fields', j, 'name'], f.name, 256);
        maxLen(errs, ['embeds', i, 'fields', j, 'value'], f.value, 1024);
        if (typeof f.name !== 'string' || !f.name) errs.add(['embeds', i, 'fields', j, 'name'], 'BASE_TYPE_REQUIRED', 'This field is required');
        if (typeof f.value !== 'string' || !f.value) errs.add(['embeds', i, 'fields', j, 'value'], 'BASE_TYPE_REQUIRED', 'This field is required');
      });
    }
    total += embedSize(e);
  });
  if (total > 6000) errs.add(['embeds'], 'MAX_EMBED_SIZE_EXCEEDED', 'Embed size exceeds maximum size of 6000');
}

function checkComponents(errs: FormErrors, components: unknown): void {
  if (components === undefined || components === null) return;
  if (!Array.isArray(components)) return errs.add(['components'], 'ARRAY_TYPE_CONVERT', 'Only iterables may be used in a ListType');
  if (components.length > 5) errs.add(['components'], 'BASE_TYPE_MAX_LENGTH', 'Must be 5 or fewer in length.');
  const ids = new Set<string>();
  components.forEach((raw, i) => {
    const row = (raw ?? {}) as Json;
    if (row.type !== 1) return; // components v2 (flags 1<<15) are not checked here
    const inner = Array.isArray(row.components) ? (row.components as Json[]) : [];
    if (inner.length === 0 || inner.length > 5) errs.add(['components', i, 'components'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 5 in length.');
    inner.forEach((c, j) => {
      const path = ['components', i, 'components', j];
      if (c.type === 2) {
        maxLen(errs, [...path, 'label'], c.label, 80);
        if (c.style === 5) {
          if (typeof c.url !== 'string') errs.add([...path, 'url'], 'BUTTON_COMPONENT_URL_REQUIRED', 'A url is required');
        } else if (c.style !== 6 && typeof c.custom_id !== 'string') {
          errs.add([...path, 'custom_id'], 'BUTTON_COMPONENT_CUSTOM_ID_REQUIRED', 'A custom id required');
        }
      }
      if (typeof c.custom_id === 'string') {
        maxLen(errs, [...path, 'custom_id'], c.custom_id, 100);
        if (ids.has(c.custom_id)) errs.add([...path, 'custom_id'], 'COMPONENT_CUSTOM_ID_DUPLICATED', 'Component custom id cannot be duplicated');
        ids.add(c.custom_id);
      }
    });
  });
}

const PARSE_VALUES = new Set(['users', 'roles', 'everyone']);

function checkAllowedMentions(errs: FormErrors, am: unknown): void {
  if (am === undefined || am === null) return;
  if (typeof am !== 'object' || Array.isArray(am)) return errs.add(['allowed_mentions'], 'MODEL_TYPE_CONVERT', 'Only dictionaries may be used in a ModelType');
  const a = am as Json;
  const parse = Array.isArray(a.parse) ? (a.parse as unknown[]) : [];
  parse.forEach((p, i) => {
    if (typeof p !== 'string' || !PARSE_VALUES.has(p)) errs.add(['allowed_mentions', 'parse', i], 'BASE_TYPE_CHOICES', "Value must be one of {'everyone', 'roles', 'users'}.");
  });
  for (const k of ['users', 'roles'] as const) {
    const list = a[k];
    if (list === undefined) continue;
    if (!Array.isArray(list)) {
      errs.add(['allowed_mentions', k], 'ARRAY_TYPE_CONVERT', 'Only iterables may be used in a ListType');
      continue;
    }
    if (list.length > 100) errs.add(['allowed_mentions', k], 'BASE_TYPE_MAX_LENGTH', 'Must be 100 or fewer in length.');
    if (list.length && parse.includes(k)) errs.add(['allowed_mentions', 'parse'], 'MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE', `parse:["${k}"] and ${k}: [ids...] are mutually exclusive.`);
  }
}

export interface MessageBodyCheck {
  /** Accept a body without content, embeds, components or files (an edit may clear fields). */
  allowEmpty?: boolean;
  fileCount?: number;
}

/** Throws Discord's 400 for a message create/edit body that Discord refuses. */
export function checkMessageBody(body: Json, opts: MessageBodyCheck = {}): void {
  const errs = new FormErrors();
  if (body.content !== undefined && body.content !== null && typeof body.content !== 'string') errs.add(['content'], 'STRING_TYPE_CONVERT', 'Could not interpret "{}" as string.');
  maxLen(errs, ['content'], body.content, CONTENT_LIMIT);
  checkEmbeds(errs, body.embeds);
  checkComponents(errs, body.components);
  checkAllowedMentions(errs, body.allowed_mentions);
  if (typeof body.nonce === 'string') maxLen(errs, ['nonce'], body.nonce, 25);
  if ((opts.fileCount ?? 0) > 10) errs.add(['files'], 'BASE_TYPE_MAX_LENGTH', 'Must be 10 or fewer in length.');
  errs.fail();
  if (opts.allowEmpty) return;
  const hasContent = typeof body.content === 'string' && body.content.trim().length > 0;
  const hasEmbeds = Array.isArray(body.embeds) && body.embeds.length > 0;
  const hasComponents = Array.isArray(body.components) && body.components.length > 0;
  const hasStickers = Array.isArray(body.sticker_ids) && body.sticker_ids.length > 0;
  if (!hasContent && !hasEmbeds && !hasComponents && !hasStickers && !body.poll && !(opts.fileCount ?? 0)) throw ERRORS.emptyMessage();
}

/** The mention syntax found in a text. */
export function mentionTokens(content: string): { everyone: boolean; here: boolean; users: string[]; roles: string[] } {
  const users = [...content.matchAll(/<@!?(\d{15,21})>/g)].map((m) => m[1]);
  const roles = [...content.matchAll(/<@&(\d{15,21})>/g)].map((m) => m[1]);
  return { everyone: /@everyone/.test(content), here: /@here/.test(content), users: [...new Set(users)], roles: [...new Set(roles)] };
}

/**
 * Who a message notifies. Without `allowed_mentions` Discord parses everything (users, roles,
 * @everyone/@here) and pings the author of a replied message; with it, only what `parse`/`users`/
 * `roles`/`replied_user` allow. Mentions inside code blocks count too (stricter than needed; the
 * rule for bots is to always send allowed_mentions). The bot itself is never "pinged".
 */
export function pingsOf(content: string, allowedMentions: unknown, opts: { botId: string; repliedAuthor?: string }): Ping[] {
  const t = mentionTokens(content);
  const am = allowedMentions && typeof allowedMentions === 'object' ? (allowedMentions as Json) : undefined;
  const parse = am ? (Array.isArray(am.parse) ? (am.parse as string[]) : []) : ['users', 'roles', 'everyone'];
  const allowUsers = am && Array.isArray(am.users) ? (am.users as string[]) : [];
  const allowRoles = am && Array.isArray(am.roles) ? (am.roles as string[]) : [];
  const replied = am ? am.replied_user === true : true;
  const out: Ping[] = [];
  if (parse.includes('everyone')) {
    if (t.everyone) out.push({ kind: 'everyone' });
    if (t.here) out.push({ kind: 'here' });
  }
  for (const id of t.roles) if (parse.includes('roles') || allowRoles.includes(id)) out.push({ kind: 'role', id });
  for (const id of t.users) if (id !== opts.botId && (parse.includes('users') || allowUsers.includes(id))) out.push({ kind: 'user', id });
  if (replied && opts.repliedAuthor && opts.repliedAuthor !== opts.botId && !out.some((p) => p.kind === 'user' && p.id === opts.repliedAuthor)) {
    out.push({ kind: 'replied_user', id: opts.repliedAuthor });
  }
  return out;
}

const COMMAND_NAME = /^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u;

/** Throws Discord's 400 for an application command Discord refuses (`path` prefixes a PUT's index). */
export function checkCommand(cmd: Json, path: Array<string | number> = [], errs = new FormErrors(), throwNow = true): FormErrors {
  const type = cmd.type === undefined ? 1 : Number(cmd.type);
  const name = cmd.name;
  if (typeof name !== 'string' || !name) errs.add([...path, 'name'], 'BASE_TYPE_REQUIRED', 'This field is required');
  else if (type === 1 && (!COMMAND_NAME.test(name) || name !== name.toLowerCase())) errs.add([...path, 'name'], 'APPLICATION_COMMAND_INVALID_NAME', 'Command name is invalid');
  else if (name.length > 32) errs.add([...path, 'name'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 32 in length.');
  const d = cmd.description;
  if (type === 1) {
    if (typeof d !== 'string' || d.length < 1 || d.length > 100) errs.add([...path, 'description'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
  } else if (d !== undefined && d !== '') {
    errs.add([...path, 'description'], 'APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION', 'Context menu commands cannot have description');
  }
  if (Array.isArray(cmd.options)) {
    if (cmd.options.length > 25) errs.add([...path, 'options'], 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
    let optionalSeen = false;
    (cmd.options as Json[]).forEach((o, i) => {
      const p = [...path, 'options', i];
      if (typeof o.name !== 'string' || !COMMAND_NAME.test(o.name) || o.name !== o.name.toLowerCase()) errs.add([...p, 'name'], 'APPLICATION_COMMAND_INVALID_NAME', 'Command name is invalid');
      const od = o.description;
      if (typeof od !== 'string' || od.length < 1 || od.length > 100) errs.add([...p, 'description'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
      const ot = Number(o.type);
      if (!Number.isInteger(ot) || ot < 1 || ot > 11) errs.add([...p, 'type'], 'BASE_TYPE_CHOICES', 'Value must be one of (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11).');
      if (ot > 2) {
        if (o.required === true && optionalSeen) errs.add([...p, 'required'], 'APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID', 'Required options must be placed before non-required options');
        if (o.required !== true) optionalSeen = true;
      }
    });
  }
  if (throwNow) errs.fail();
  return errs;
}

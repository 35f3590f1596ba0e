/**
 * The template message a reply falls back to outside the 24-hour customer-service window (the
 * only kind of message Meta lets a business send then): the operator names an approved template
 * and its language on the out node, and its body parameter is filled from the reply; a flow may
 * name one per message as `msg.template = { name, language, params: [...] }`.
 */
import type { Result } from '../core/envelope';

export interface TemplateSpec {
  name: string;
  language: string;
  params: string[];
}

/** Meta refuses body parameters with newlines, tabs or more than four spaces in a row (132018). */
export function templateParam(text: string, max = 900): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  const chars = [...flat];
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : flat;
}

const NAME = /^[a-z0-9_]{1,512}$/;
const LANGUAGE = /^[a-z]{2,3}(_[A-Z]{2})?$/;

/** The node's configured template (params from the reply), or undefined when none is set. */
export function configuredTemplate(name: string | undefined, language: string | undefined, withText: boolean): { name: string; language: string; withText: boolean } | undefined {
  const n = (name ?? '').trim();
  if (!n) return undefined;
  return { name: n, language: (language ?? '').trim() || 'en', withText };
}

export function readTemplate(value: unknown): Result<TemplateSpec | undefined> {
  if (value === undefined || value === null) return { ok: true, value: undefined };
  const v = value as { name?: unknown; language?: unknown; params?: unknown };
  if (typeof v !== 'object' || typeof v.name !== 'string' || !NAME.test(v.name)) return { ok: false, error: 'msg.template.name: expected the name of an approved template (lower case letters, digits and _)' };
  const language = v.language === undefined ? 'en' : v.language;
  if (typeof language !== 'string' || !LANGUAGE.test(language)) return { ok: false, error: 'msg.template.language: expected a language code such as en or en_US' };
  const params = v.params === undefined ? [] : v.params;
  if (!Array.isArray(params) || params.length > 20 || !params.every((p) => typeof p === 'string' || typeof p === 'number')) return { ok: false, error: 'msg.template.params: expected an array of up to 20 strings' };
  return { ok: true, value: { name: v.name, language, params: params.map((p) => templateParam(String(p))) } };
}

/** The `template` object of a message. */
export function templateBody(t: TemplateSpec): Record<string, unknown> {
  return {
    name: t.name,
    language: { code: t.language },
    ...(t.params.length ? { components: [{ type: 'body', parameters: t.params.map((text) => ({ type: 'text', text })) }] } : {}),
  };
}

/**
 * Portable chat and user ids ("JIDs"): a short platform prefix and the platform's own id,
 * so one allowlist or one admin call can name a chat on any platform.
 */
import { Platform, PLATFORMS } from './envelope';

export const JID_PREFIX: Record<Platform, string> = {
  telegram: 'tg',
  slack: 'slack',
  discord: 'discord',
  whatsapp: 'wa',
  webhook: 'webhook',
  webchat: 'webchat',
};

const PLATFORM_BY_PREFIX = new Map<string, Platform>(
  PLATFORMS.map((p) => [JID_PREFIX[p], p] as [string, Platform]),
);

export function toJid(platform: Platform, id: string): string {
  return `${JID_PREFIX[platform]}:${id}`;
}

export interface ParsedJid {
  platform: Platform;
  id: string;
}

/** Parses `tg:123`; the id may itself contain colons. Returns undefined for an unknown prefix. */
export function parseJid(jid: string): ParsedJid | undefined {
  if (typeof jid !== 'string') return undefined;
  const colon = jid.indexOf(':');
  if (colon <= 0) return undefined;
  const platform = PLATFORM_BY_PREFIX.get(jid.slice(0, colon));
  const id = jid.slice(colon + 1);
  if (!platform || !id) return undefined;
  return { platform, id };
}

/**
 * An allowlist entry: `*` (everyone), or a known prefix, a colon and at least one character (a JID
 * such as `tg:123`, or a platform wildcard such as `tg:*`). The allowlist filter's editor checks
 * the same rule in its .html (`e.jid === '*' || /^(tg|slack|...):.+/`), which cannot import this;
 * test/nodes/routing.test.ts runs the editor's check beside this one so the two cannot drift.
 */
export const JID_PATTERN = new RegExp(`^(?:\\*$|(?:${PLATFORMS.map((p) => JID_PREFIX[p]).join('|')}):.+)`);

export function isValidJidPattern(pattern: string): boolean {
  return typeof pattern === 'string' && JID_PATTERN.test(pattern);
}

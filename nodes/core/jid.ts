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

/** A pattern is a JID or a per-platform wildcard (`tg:*`), or `*` for everyone. */
export function isValidJidPattern(pattern: string): boolean {
  if (pattern === '*') return true;
  const colon = pattern.indexOf(':');
  if (colon <= 0) return false;
  return PLATFORM_BY_PREFIX.has(pattern.slice(0, colon)) && pattern.length > colon + 1;
}

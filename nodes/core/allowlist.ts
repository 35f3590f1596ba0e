/**
 * Allowlist matching and the named allowlists kept in the gateway store.
 * Entries are JIDs (`tg:123456789`) or per-platform wildcards (`tg:*`), each with a label.
 */
import { z } from 'zod';
import { isValidJidPattern } from './jid';

export const ALLOWLIST_MODES = ['open', 'allowlist', 'closed'] as const;
export type AllowlistMode = (typeof ALLOWLIST_MODES)[number];
export type MatchOn = 'sender' | 'chat' | 'either';

export const AllowEntrySchema = z.object({
  // The editor's rule (isValidJidPattern), no more: `*` is one character. The cap only bounds the store.
  jid: z
    .string()
    .max(520)
    .refine(isValidJidPattern, { message: 'not a JID or wildcard like tg:123, tg:* or *' }),
  label: z.string().max(200).optional(),
});
export type AllowEntry = z.infer<typeof AllowEntrySchema>;

export interface Subject {
  userJid: string;
  chatJid: string;
  isBot: boolean;
}

export type Verdict = { allowed: true; entry?: AllowEntry } | { allowed: false; reason: string };

function wildcardMatches(pattern: string, jid: string): boolean {
  if (pattern === '*') return true;
  return pattern.endsWith(':*') && jid.startsWith(pattern.slice(0, -1));
}

/** Finds the entry that lets a JID in: an exact entry wins over a wildcard. */
function findEntry(entries: Iterable<AllowEntry>, jid: string, allowWildcard: boolean): AllowEntry | undefined {
  let wildcard: AllowEntry | undefined;
  for (const e of entries) {
    if (e.jid === jid) return e;
    if (allowWildcard && !wildcard && wildcardMatches(e.jid, jid)) wildcard = e;
  }
  return wildcard;
}

export function checkAllowed(subject: Subject, entries: AllowEntry[], mode: AllowlistMode, matchOn: MatchOn): Verdict {
  if (mode === 'closed') return { allowed: false, reason: 'closed: the filter admits nobody' };
  const jids = matchOn === 'sender' ? [subject.userJid] : matchOn === 'chat' ? [subject.chatJid] : [subject.userJid, subject.chatJid];
  if (subject.isBot) {
    // Bots answering bots loop forever; only an exact entry for the bot itself lets one in.
    const entry = findEntry(entries, subject.userJid, false);
    return entry && entry.jid === subject.userJid
      ? { allowed: true, entry }
      : { allowed: false, reason: `bot sender ${subject.userJid} is not listed` };
  }
  if (mode === 'open') return { allowed: true };
  for (const jid of jids) {
    const entry = findEntry(entries, jid, true);
    if (entry) return { allowed: true, entry };
  }
  const who = matchOn === 'chat' ? `chat ${subject.chatJid}` : matchOn === 'sender' ? `sender ${subject.userJid}` : `sender ${subject.userJid} / chat ${subject.chatJid}`;
  return { allowed: false, reason: `${who} is not on the allowlist` };
}

/** Runtime allowlists by name, edited through the admin API or by message, persisted by the gateway. */
export class Allowlists {
  private readonly lists = new Map<string, Map<string, AllowEntry>>();

  entries(list: string): AllowEntry[] {
    return Array.from(this.lists.get(list)?.values() ?? []);
  }

  names(): string[] {
    return Array.from(this.lists.keys());
  }

  add(list: string, entry: AllowEntry): void {
    let m = this.lists.get(list);
    if (!m) this.lists.set(list, (m = new Map()));
    m.set(entry.jid, { jid: entry.jid, ...(entry.label ? { label: entry.label } : {}) });
  }

  remove(list: string, jid: string): boolean {
    return this.lists.get(list)?.delete(jid) ?? false;
  }

  replace(list: string, entries: AllowEntry[]): void {
    this.lists.set(list, new Map(entries.map((e) => [e.jid, e])));
  }

  snapshot(): Array<[string, AllowEntry[]]> {
    return Array.from(this.lists.entries()).map(([name, m]) => [name, Array.from(m.values())]);
  }

  restore(data: unknown): void {
    this.lists.clear();
    if (!Array.isArray(data)) return;
    for (const item of data as unknown[]) {
      if (!Array.isArray(item) || typeof item[0] !== 'string' || !Array.isArray(item[1])) continue;
      const valid = (item[1] as unknown[]).flatMap((e) => {
        const r = AllowEntrySchema.safeParse(e);
        return r.success ? [r.data] : [];
      });
      this.replace(item[0], valid);
    }
  }
}

/** Entries from the editor; invalid ones are reported once at deploy and left out. */
export function parseEntries(raw: unknown): { entries: AllowEntry[]; invalid: string[] } {
  const entries: AllowEntry[] = [];
  const invalid: string[] = [];
  for (const e of Array.isArray(raw) ? raw : []) {
    const parsed = AllowEntrySchema.safeParse(e);
    if (parsed.success) entries.push(parsed.data);
    else invalid.push(String((e as { jid?: unknown })?.jid));
  }
  return { entries, invalid };
}


/**
 * Allowlist matching and the named allowlists kept in the gateway store.
 * Entries are JIDs (`tg:123456789`) or per-platform wildcards (`tg:*`), each with a label.
 */
import { z } from 'zod';
import { isValidJidPattern } from './jid';

// pairing: checked as allowlist; an unknown sender is offered a one-time code (core/pairing.ts).
export const ALLOWLIST_MODES = ['open', 'allowlist', 'closed', 'pairing'] as const;
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

/**
 * Where a check looks entries up: by exact JID in one step, and through the few wildcard entries
 * (`*`, `tg:*`). A filter checks every message against lists that may hold thousands of entries,
 * so nothing is copied or scanned per message.
 */
export interface AllowSource {
  get(jid: string): AllowEntry | undefined;
  wildcards(): Iterable<AllowEntry>;
}

function isWildcard(jid: string): boolean {
  return jid === '*' || jid.endsWith(':*');
}

/** An index over a fixed list of entries (the ones written in the flow); the first of a JID wins. */
export function indexEntries(entries: readonly AllowEntry[]): AllowSource {
  const exact = new Map<string, AllowEntry>();
  const wild: AllowEntry[] = [];
  for (const e of entries) {
    if (!exact.has(e.jid)) exact.set(e.jid, e);
    if (isWildcard(e.jid)) wild.push(e);
  }
  return { get: (jid) => exact.get(jid), wildcards: () => wild };
}

/** Finds the entry that lets a JID in: an exact entry (in any source, in order) wins over a wildcard. */
function findEntry(sources: readonly AllowSource[], jid: string, allowWildcard: boolean): AllowEntry | undefined {
  for (const src of sources) {
    const e = src.get(jid);
    if (e) return e;
  }
  if (!allowWildcard) return undefined;
  for (const src of sources) for (const e of src.wildcards()) if (wildcardMatches(e.jid, jid)) return e;
  return undefined;
}

export function checkAllowed(subject: Subject, entries: AllowEntry[], mode: AllowlistMode, matchOn: MatchOn): Verdict {
  return checkAllowedIn(subject, [indexEntries(entries)], mode, matchOn);
}

/** The verdict for `subject` against entries looked up in `sources`, in order (the flow's, then the gateway's). */
export function checkAllowedIn(subject: Subject, sources: readonly AllowSource[], mode: AllowlistMode, matchOn: MatchOn): Verdict {
  if (mode === 'closed') return { allowed: false, reason: 'closed: the filter admits nobody' };
  if (subject.isBot) {
    // Bots answering bots loop forever; only an exact entry for the bot itself lets one in.
    const entry = findEntry(sources, subject.userJid, false);
    return entry ? { allowed: true, entry } : { allowed: false, reason: `bot sender ${subject.userJid} is not listed` };
  }
  if (mode === 'open') return { allowed: true };
  const jids = matchOn === 'sender' ? [subject.userJid] : matchOn === 'chat' ? [subject.chatJid] : [subject.userJid, subject.chatJid];
  for (const jid of jids) {
    const entry = findEntry(sources, jid, true);
    if (entry) return { allowed: true, entry };
  }
  const who = matchOn === 'chat' ? `chat ${subject.chatJid}` : matchOn === 'sender' ? `sender ${subject.userJid}` : `sender ${subject.userJid} / chat ${subject.chatJid}`;
  return { allowed: false, reason: `${who} is not on the allowlist` };
}

/** Runtime allowlists by name, edited through the admin API or by message, persisted by the gateway. */
export class Allowlists {
  private readonly lists = new Map<string, Map<string, AllowEntry>>();
  private readonly sources = new Map<string, AllowSource>();

  entries(list: string): AllowEntry[] {
    return Array.from(this.lists.get(list)?.values() ?? []);
  }

  has(list: string): boolean {
    return this.lists.has(list);
  }

  names(): string[] {
    return Array.from(this.lists.keys());
  }

  /** A live view of one list for checks: exact JIDs by lookup, wildcards by a scan of the list's few. */
  source(list: string): AllowSource {
    let src = this.sources.get(list);
    if (!src) {
      src = {
        get: (jid) => this.lists.get(list)?.get(jid),
        wildcards: () => this.wildcardsOf(list),
      };
      this.sources.set(list, src);
    }
    return src;
  }

  private readonly wild = new Map<string, AllowEntry[]>();

  private wildcardsOf(list: string): AllowEntry[] {
    let w = this.wild.get(list);
    if (!w) {
      w = Array.from(this.lists.get(list)?.values() ?? []).filter((e) => isWildcard(e.jid));
      this.wild.set(list, w);
    }
    return w;
  }

  add(list: string, entry: AllowEntry): void {
    let m = this.lists.get(list);
    if (!m) this.lists.set(list, (m = new Map()));
    m.set(entry.jid, { jid: entry.jid, ...(entry.label ? { label: entry.label } : {}) });
    this.wild.delete(list);
  }

  remove(list: string, jid: string): boolean {
    this.wild.delete(list);
    return this.lists.get(list)?.delete(jid) ?? false;
  }

  replace(list: string, entries: AllowEntry[]): void {
    this.lists.set(list, new Map(entries.map((e) => [e.jid, e])));
    this.wild.delete(list);
  }

  snapshot(): Array<[string, AllowEntry[]]> {
    return Array.from(this.lists.entries()).map(([name, m]) => [name, Array.from(m.values())]);
  }

  restore(data: unknown): void {
    this.lists.clear();
    this.wild.clear();
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


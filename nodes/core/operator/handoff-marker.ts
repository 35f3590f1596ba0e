/**
 * The hand-off marker an agent writes in its reply to ask for a person: `[[handoff]]`, or
 * `[[handoff: reason]]` (the marker is a setting; a marker ending in `]]` takes a reason before
 * them). The marker never reaches the chat: it is cut from the whole reply, and a streamed reply
 * holds back a trailing piece that may still become one.
 */
export const DEFAULT_HANDOFF_MARKER = '[[handoff]]';
export const DEFAULT_HANDOFF_TEXT = 'A person will answer you here shortly.';

/** Longest `[[handoff: ...]]` held back while streaming before it is let through as plain text. */
const MAX_PENDING_CHARS = 300;

export interface MarkerFound {
  /** The reply without its markers, trimmed. */
  text: string;
  found: boolean;
  reason?: string;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export class HandoffMarker {
  private readonly head: string;
  private readonly pattern: RegExp;

  constructor(readonly marker: string = DEFAULT_HANDOFF_MARKER) {
    const m = marker.trim() || DEFAULT_HANDOFF_MARKER;
    this.head = m.endsWith(']]') ? m.slice(0, -2) : m;
    const source = m.endsWith(']]') ? `${escape(this.head)}(?:\\s*:\\s*([^\\]]{0,${MAX_PENDING_CHARS}}))?\\]\\]` : escape(m);
    this.pattern = new RegExp(source, 'gi');
    this.closes = m.endsWith(']]');
  }

  private readonly closes: boolean;

  /** The whole reply: markers cut out, the first reason given kept. */
  strip(reply: string): MarkerFound {
    let reason: string | undefined;
    let found = false;
    const text = reply.replace(this.pattern, (_m, r: unknown) => {
      found = true;
      if (reason === undefined && typeof r === 'string' && r.trim()) reason = r.trim();
      return '';
    });
    return { text: found ? text.replace(/[ \t]+\n/g, '\n').replace(/\n{3,}/g, '\n\n').trim() : text, found, ...(reason ? { reason } : {}) };
  }

  /**
   * What of a reply streamed so far the user may see: markers cut out, and a tail that could still
   * grow into a marker held back. Only ever grows as `raw` grows (a held tail is let through once
   * it cannot be a marker, a completed marker was never shown).
   */
  visible(raw: string): string {
    const text = raw.replace(this.pattern, '');
    const lower = text.toLowerCase();
    const head = this.head.toLowerCase();
    // The earliest start of a tail that may still become a marker.
    for (let i = Math.max(0, text.length - MAX_PENDING_CHARS - head.length); i < text.length; i++) {
      if (lower[i] !== head[0]) continue;
      const tail = lower.slice(i);
      if (head.startsWith(tail)) return text.slice(0, i);
      if (this.closes && tail.startsWith(head) && /^\s*(:[^\]]*)?\]?$/.test(tail.slice(head.length))) return text.slice(0, i);
    }
    return text;
  }
}

/**
 * The delivery engine's contract: platform-neutral pieces every out node uses (Telegram first,
 * then Slack, Discord, WhatsApp). Markdown is parsed once and rendered by a per-platform renderer;
 * long replies are split on the rendered text; streamed replies edit one message; sends to one chat
 * stay in order.
 */

/** One platform's output format and limits. */
export interface PlatformFormat {
  /** e.g. 'telegram-html', 'slack-mrkdwn', 'discord-markdown', 'whatsapp', 'plain'. */
  readonly name: string;
  /** Longest message the platform accepts, measured the way the platform measures it. */
  readonly maxLength: number;
  /** Length as the platform counts it (Telegram counts UTF-16 units of the text AFTER entity parsing). */
  measure(rendered: string): number;
  /**
   * Writes styled runs in the platform's markup. Omitted: plain text. The splitter cuts runs, not
   * markup, and serialises each part on its own, so no tag ever straddles two parts.
   */
  serialize?(runs: readonly Run[]): string;
  /**
   * Optional fast path for the splitter: `measure` counts only the visible text, so a part's length
   * is the sum over its runs and the splitter never has to serialise a candidate part to measure it.
   */
  readonly additiveMeasure?: AdditiveMeasure;
  /**
   * The runs as `serialize` will really write them (Telegram drops the marks its nesting rules
   * forbid), so the splitter counts the entities that will be sent. Must be idempotent, keep the
   * text, and `serialize(normalize(runs))` must equal `serialize(runs)`. Omitted: runs as they are.
   */
  normalize?(runs: readonly Run[]): readonly Run[];
  /**
   * Most formatting entities one message may carry. Each mark a run opens (one not already open
   * on the run before it) is one entity. Omitted: no limit (e.g. plain text has no entities).
   */
  readonly maxEntities?: number;
  /** Budget for the entities' own size, as counted by `entitySize`. Omitted: no limit. */
  readonly maxEntitySize?: number;
  /** What one entity costs against `maxEntitySize`. Omitted: 1 per entity. */
  entitySize?(mark: Mark): number;
}

/**
 * A measure that adds up over visible text: `measure(serialize(runs))` equals the sum of
 * `text(run.text)` over the runs, and `text(a + b) === text(a) + text(b)` for pieces cut at grapheme
 * boundaries. Markup counts nothing.
 */
export interface AdditiveMeasure {
  /**
   * The `measure` this one agrees with. The splitter takes the fast path only while
   * `format.measure === additiveMeasure.of`, so a format copied with a measure of its own (one that
   * counts markup, say) falls back to measuring serialised parts instead of being measured wrongly.
   */
  readonly of: (rendered: string) => number;
  text(visible: string): number;
}

/** A formatting the layout can ask for; each platform serialiser maps it to its own markup. */
export type Mark =
  | { readonly kind: 'bold' | 'italic' | 'strike' | 'underline' | 'code' | 'quote' }
  | { readonly kind: 'link'; readonly href: string }
  | { readonly kind: 'pre'; readonly lang: string };

/** Visible text with the marks that apply to it, outermost first. */
export interface Run {
  readonly text: string;
  readonly marks: readonly Mark[];
}

/** A reply ready to send: the rendered text and the plain-text fallback for the same content. */
export interface RenderedPart {
  /** In the platform's format (Telegram: HTML for parse_mode 'HTML'). */
  text: string;
  /** The same part with no markup, for a resend when the platform refuses the formatting. */
  plain: string;
}

/** Renders Markdown and splits it into parts that each fit the platform's limit. */
export type RenderAndSplit = (markdown: string, format: PlatformFormat) => RenderedPart[];

/** What a stream editor needs from the platform: send a new message, edit an existing one. */
export interface StreamTarget {
  send(part: RenderedPart): Promise<string /* message id */>;
  edit(messageId: string, part: RenderedPart): Promise<void>;
  /** Optional: lets `finish` remove streamed messages the final text no longer needs. */
  delete?(messageId: string): Promise<void>;
}

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

/**
 * TEMPORARY, to be replaced by SLACK_MRKDWN from core/delivery (the delivery engineer's Slack
 * renderer: Markdown to mrkdwn, links as <url|label>, headings as bold lines, tables as monospace).
 * Until it lands, replies are sent as plain text with Slack's three escapes (`&`, `<`, `>`), so an
 * agent's text can never become a link, a mention or a live `<!channel>`; the splitter keeps
 * code blocks whole as for every format.
 *
 * Measured in UTF-8 bytes, not characters: chat.update refuses text above 4,000 bytes
 * (`msg_too_long`), and a streamed reply is edited, so every part must fit an update.
 */
import { plainFormat, type PlatformFormat } from '../core/delivery';

export const SLACK_MAX_BYTES = 4000;

export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const bytes = (text: string) => Buffer.byteLength(text, 'utf8');
/** Escaping is per character, so the escaped length of a text is the sum over its pieces. */
const measure = (rendered: string) => bytes(rendered);

const base = plainFormat(SLACK_MAX_BYTES, 'slack-mrkdwn-temporary');

export const SLACK_TEMP_FORMAT: PlatformFormat = {
  ...base,
  measure,
  serialize: (runs) => escapeMrkdwn((base.serialize ?? ((r) => r.map((x) => x.text).join('')))(runs)),
  additiveMeasure: { of: measure, text: (visible: string) => bytes(escapeMrkdwn(visible)) },
};

/** A format like `f` with a smaller limit (section blocks hold 3,000 characters). */
export function withMaxLength(f: PlatformFormat, maxLength: number, name: string): PlatformFormat {
  return { ...f, name, maxLength };
}

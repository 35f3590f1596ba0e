/** The delivery engine: Markdown parsed once, rendered per platform, split, streamed, queued per chat. */
export type { PlatformFormat, AdditiveMeasure, RenderedPart, RenderAndSplit, StreamTarget, Mark, Run } from './types';
export { parseMarkdown, type Block, type Inline } from './markdown';
export { layoutBlocks, SAFE_LINK, type LayoutOptions } from './layout';
export { renderAndSplit, renderWhole, renderBlocks, splitBlocks, toPart, BLOCK_SEPARATOR } from './split';
export { displayWidth } from './display-width';
export {
  TELEGRAM_HTML,
  TELEGRAM_MAX_LENGTH,
  TELEGRAM_CAPTION_MAX_LENGTH,
  TELEGRAM_MAX_ENTITIES,
  TELEGRAM_MAX_ENTITY_MARKUP,
  serializeTelegramHtml,
  normalizeTelegramRuns,
  telegramEntitySize,
  measureTelegramHtml,
  telegramVisibleText,
  escapeHtml,
  escapeAttribute,
} from './render-telegram';
export {
  SLACK_MRKDWN,
  SLACK_MAX_BYTES,
  serializeSlackMrkdwn,
  measureSlackMrkdwn,
  escapeSlackText,
  slackUrl,
  isSlackLink,
} from './render-slack';
export { readSlackMrkdwn, slackVisibleText, type SlackReading } from './slack-reader';
export {
  DISCORD_MARKDOWN,
  DISCORD_MAX_LENGTH,
  serializeDiscordMarkdown,
  measureDiscordMarkdown,
  discordUrl,
  isDiscordLink,
  isMaskableLabel,
} from './render-discord';
export { readDiscordMarkdown, discordVisibleText, type DiscordReading } from './discord-reader';
export {
  WHATSAPP_TEXT,
  WHATSAPP_MAX_LENGTH,
  WORD_JOINER,
  serializeWhatsApp,
  measureWhatsApp,
  whatsappUrl,
  whatsappAddress,
  isWhatsAppLink,
} from './render-whatsapp';
export { readWhatsApp, whatsappVisibleText, type WhatsAppReading, type WhatsAppReadOptions } from './whatsapp-reader';
export { PLAIN, plainFormat, serializePlain, measurePlain } from './render-plain';
export { retryAfterMs, isNotModified, isEntityError } from './errors';
export { StreamEditor, DEFAULT_EDIT_INTERVAL_MS, type StreamEditorOptions, type SentMessage } from './stream-editor';
export { TypingKeeper, DEFAULT_TYPING_INTERVAL_MS, DEFAULT_TYPING_MAX_MS, type TypingKeeperOptions, type SendTyping } from './typing-keeper';
export { ChatQueue, ChatQueueFullError, ChatQueueClosedError, DEFAULT_MAX_CHATS, DEFAULT_MAX_PENDING_PER_CHAT, type ChatQueueOptions } from './chat-queue';
export { systemClock, ManualClock, type Clock, type TimerHandle } from './clock';

/**
 * The public types of the WhatsApp Business Cloud API emulator (see ../whatsapp-server.ts). Plain
 * shapes, no SDK: the wire objects (inbound messages, notifications, statuses) are `Json` because
 * they are exactly what Meta sends, and tests read them the way a node does.
 */

export type Json = Record<string, unknown>;

export interface TemplateSpec {
  name: string;
  /** The language code the template was approved in (`language.code` of a send), e.g. 'en' or 'en_US'. */
  language: string;
  /** How many body parameters ({{1}}...) it takes; a send with another count answers 132000. Unset: not checked. */
  params?: number;
  /** The body text, with {{1}}... placeholders: what the phone shows (PhoneItem.text). */
  body?: string;
  /** Quick-reply button titles the template shows (a press arrives as `make.button`). */
  quickReplies?: string[];
}

export interface WhatsAppServerOptions {
  /** The system-user access token (default: `EAAG` + 100 base64url characters). */
  token?: string;
  /** The app secret notifications are signed with (default: 32 random hex characters). */
  appSecret?: string;
  /** Default 106540352242922. */
  phoneNumberId?: string;
  /** The business number users see, digits only (default 15550001234). */
  displayPhoneNumber?: string;
  /** The WhatsApp Business Account id (entry[].id of notifications; default 102290129340398). */
  wabaId?: string;
  /** The verify token `verify()` sends by default (the one configured in the app dashboard). */
  verifyToken?: string;
  /** A message to a user sooner than this after the previous accepted one answers 131056 (default 0: off). */
  pairRateMs?: number;
  /** Accepted messages per rolling second before 130429 (default 80). */
  throughputPerSecond?: number;
  /** Where status notifications go (also settable with setWebhook). */
  webhookUrl?: string;
  /** Post sent/delivered/read statuses for accepted messages (default true). */
  statuses?: boolean;
  /** The user reads every message at once: a read status follows delivered (default false). */
  autoRead?: boolean;
  /** A notification not answered 200 within this is retried (default 1500 ms). */
  webhookTimeoutMs?: number;
  /** The waits before each retry (default [100, 300, 1000]: 4 attempts in all). */
  webhookRetryDelaysMs?: number[];
  /** Media uploads bigger than this answer error 100 (default 100 MB). */
  maxMediaBytes?: number;
  /** The approved templates (default [{ name: 'reopen_chat', language: 'en', params: 1 }]). */
  templates?: TemplateSpec[];
}

export interface WhatsAppUser {
  /** The profile name (contacts[].profile.name). */
  name: string;
  /** The phone number in digits (`wa_id`); absent for a user who withholds it behind a username. */
  waId?: string;
  /** The business-scoped user id (BSUID), always there: `US.1000000000000001`. */
  userId: string;
  username?: string;
}

export type DeliveryStatus = 'sent' | 'delivered' | 'read' | 'failed';

export interface PhoneMedia {
  link?: string;
  id?: string;
  caption?: string;
  filename?: string;
  mimeType?: string;
  /** The uploaded bytes (sends by `id` only; a `link` is not fetched). */
  bytes?: Buffer;
}

/** One business message as the user's phone shows it. */
export interface PhoneItem {
  /** The wamid the send answered. */
  id: string;
  at: number;
  /** The message type of the send: text, image, interactive, template, reaction... */
  type: string;
  /** The text shown: the body, an interactive body, a caption, a template's rendered body. */
  text?: string;
  /** The message it quotes (context.message_id). */
  contextId?: string;
  buttons?: Array<{ id: string; title: string }>;
  list?: { button: string; rows: Array<{ id: string; title: string; description?: string }> };
  media?: PhoneMedia;
  template?: { name: string; language: string; params: string[] };
  reaction?: { messageId: string; emoji: string };
  // --- additions ---
  /** The latest status of the message (the one the emulator notified, or would have). */
  status: DeliveryStatus;
  /** `interactive.type` for interactive messages (button, list, cta_url). */
  interactiveType?: string;
  header?: string;
  footer?: string;
  previewUrl?: boolean;
  /** A cta_url button. */
  cta?: { displayText: string; url: string };
  location?: { latitude: number; longitude: number; name?: string; address?: string };
  contacts?: Json[];
  /** How the send addressed the user: `to` (digits) or `recipient` (BSUID). */
  addressedBy: 'to' | 'recipient';
}

export type CallOp = 'send' | 'read' | 'upload' | 'media' | 'deleteMedia' | 'phoneNumber' | 'unknown';
export type CallOutcome = 'ok' | 'error' | 'html' | 'dropped' | 'refused';

export interface ApiCall {
  method: string;
  /** The URL path as requested (with the version). */
  path: string;
  /** The Graph version of the path (`v21.0`), when it had one. */
  version?: string;
  /** The parsed JSON body; for an upload { messaging_product, type, file: { filename, size, type } }. */
  body: unknown;
  /** The HTTP status answered (for a dropped answer: the one that was lost; refused: 0). */
  status: number;
  /** Meta's error code when the answer was an error. */
  errorCode?: number;
  /** The bearer token was the right one and not revoked. */
  authorized: boolean;
  at: number;
  // --- additions ---
  op: CallOp;
  outcome: CallOutcome;
  /** The JSON answered (also for a dropped answer). */
  response?: unknown;
  /** The wamid of an accepted message. */
  messageId?: string;
  /** The user a send or read receipt went to, when known. */
  user?: WhatsAppUser;
}

export interface WebhookAttempt {
  /** The HTTP status, or 'timeout' (no answer within webhookTimeoutMs), or 'error' (connection failed). */
  status: number | 'timeout' | 'error';
  ms: number;
  /** The answer's body (when there was one). */
  text?: string;
}

export interface WebhookDelivery {
  attempts: WebhookAttempt[];
  /** Some attempt was answered 200 within the timeout. */
  answered: boolean;
  /** The raw body posted. */
  body: string;
  // --- additions ---
  url: string;
  /** What posted it: deliver()/userSends(), or the emulator's status notifications. */
  kind: 'deliver' | 'status';
  /** All attempts are over (answered, retries exhausted, or the emulator closed). */
  done: boolean;
  /** The X-Hub-Signature-256 header sent (absent when unsigned). */
  signature?: string;
}

export interface DeliverOptions {
  /** 'valid' (default): signed with the app secret; 'none': no header; 'wrong': another secret; any other string: sent as the header. */
  signature?: 'valid' | 'none' | 'wrong' | string;
  /** Retry as Meta does after webhookRetryDelaysMs (default true). */
  retry?: boolean;
  contentType?: string;
  /** Extra request headers. */
  headers?: Record<string, string>;
}

export interface ReadReceipt {
  messageId: string;
  /** The call asked for a typing indicator too. */
  typing: boolean;
  at: number;
  user?: WhatsAppUser;
}

export interface UploadRecord {
  id: string;
  mimeType: string;
  filename?: string;
  bytes: Buffer;
}

export interface DownloadRecord {
  mediaId: string;
  authorized: boolean;
  // --- additions ---
  /** The bytes were served (authorized, and the URL's hash and expiry were good). */
  served: boolean;
  status: number;
  at: number;
}

/** Which calls an injection hits: sends (default), read receipts, media (upload, GET, DELETE), or any Graph call. */
export type InjectTarget = 'messages' | 'media' | 'read' | 'any';

export interface WhatsAppInjector {
  /** The next `times` (default 1) Graph calls matching `on` (default 'messages') answer Meta's error for `code` (190 → 401, 1/2/131000 → 500/503 with is_transient, others → 400). */
  error(code: number, opts?: { times?: number; on?: InjectTarget; details?: string }): void;
  /** 502 with an HTML body (a proxy in front of the Graph API). */
  html(times?: number, on?: InjectTarget): void;
  /** The socket is destroyed before answering, AFTER the message was accepted (shown on the phone): a lost answer. */
  drop(times?: number, on?: InjectTarget): void;
  /** The socket is destroyed before the message is accepted (not shown). */
  refuse(times?: number, on?: InjectTarget): void;
  /** The next `times` matching calls are answered `ms` later. */
  slow(ms: number, times?: number, on?: InjectTarget): void;
  /** Every later call with the token answers 190 (until clear()). */
  revokeToken(): void;
  clear(): void;
}

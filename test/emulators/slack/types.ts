/**
 * The public types of the Slack emulator (see ../slack-server.ts). Plain shapes, no SDK types, so
 * the emulator typechecks without @slack/* installed.
 */
import type { MrkdwnFinding } from './mrkdwn';

export type Params = Record<string, unknown>;
export type Json = Record<string, unknown>;

export interface SlackServerOptions {
  /** The bot token (xoxb-...) every Web API method but apps.connections.open takes. */
  botToken: string;
  /** The app-level token (xapp-...) apps.connections.open takes. */
  appToken: string;
  signingSecret: string;
  /** The bot token's scopes; leave one out to get missing_scope. Default: every scope the methods need. */
  scopes?: string[];
  teamId?: string;
  teamDomain?: string;
  appId?: string;
  botId?: string;
  botUserId?: string;
  botName?: string;
  /** A Socket Mode envelope not acked within this is delivered again (ms, default 3000). */
  ackTimeoutMs?: number;
  /** How many times an unacked envelope is delivered again (default 3, like Slack). */
  maxRedeliveries?: number;
  /** The server pings every open socket at this interval (ms, default 0 = never; Slack pings). */
  pingIntervalMs?: number;
  /**
   * Answer a post or update whose text breaks mrkdwn (see mrkdwnErrors) with an error instead of
   * only recording it: `invalid_blocks` for block texts, `invalid_mrkdwn` (an emulator-only error
   * name) for text fields. Default false: real Slack accepts such text and shows it wrong.
   */
  rejectBadMrkdwn?: boolean;
  /** Deliver the bot's own posts back as `message` events over Socket Mode, as Slack does (default false). */
  echoOwnMessages?: boolean;
}

/** A Slack file as files.info and events show it. */
export interface SlackFile {
  id: string;
  created: number;
  timestamp: number;
  name: string;
  title: string;
  mimetype: string;
  filetype: string;
  pretty_type: string;
  user: string;
  user_team: string;
  size: number;
  mode: 'hosted';
  is_external: false;
  is_public: boolean;
  url_private: string;
  url_private_download: string;
  permalink: string;
  channels?: string[];
  alt_txt?: string;
}

export interface Reaction {
  name: string;
  users: string[];
  count: number;
}

/** A message as the users of the channel see it, after edits. */
export interface SlackMessage {
  channel: string;
  ts: string;
  /** The parent's ts for a thread reply (and the parent's own ts on a parent that has replies). */
  thread_ts?: string;
  /** Posted by this emulator's bot (through the Web API, or an event from the bot itself). */
  fromBot: boolean;
  user?: string;
  bot_id?: string;
  subtype?: string;
  /** The text as posted (mrkdwn source; standard Markdown for markdown_text and streams). */
  text: string;
  /** What a user reads: mrkdwnToText(text), or the markdown as is. */
  visibleText: string;
  /** true when text is standard Markdown (markdown_text, a stream). */
  markdown: boolean;
  blocks?: unknown[];
  attachments?: unknown[];
  files?: SlackFile[];
  /** For native streams: 'in_progress' until chat.stopStream, then 'completed'. */
  streaming?: 'in_progress' | 'completed';
  /** Every chunk a stream received, in order (markdown_text chunks and any others). */
  chunks?: Json[];
  reply_broadcast?: boolean;
  /** chat.update calls that changed it (user edits through make.edited count too). */
  edits: number;
  reactions: Reaction[];
  metadata?: unknown;
}

/** An ephemeral message, seen only by `user`. */
export interface EphemeralMessage {
  channel: string;
  user: string;
  ts: string;
  thread_ts?: string;
  text: string;
  blocks?: unknown[];
  /** 'chat.postEphemeral', 'response_url', or 'ack' (a slash command acked with a text). */
  via: string;
}

/**
 * One request the bot made: every Web API call (ok, error, injected failure, dropped or lost),
 * plus `upload` (bytes POSTed to an upload_url) and `response_url` posts.
 */
export interface SlackCall {
  method: string;
  /**
   * 'ok' / 'error': answered; 'dropped': the socket was destroyed and nothing was applied;
   * 'lost': applied, then the socket was destroyed instead of answering.
   */
  outcome: 'ok' | 'error' | 'dropped' | 'lost';
  params: Params;
  /** Which token the call carried: 'bot', 'app', 'none', or 'other' (wrong or revoked). */
  token: 'bot' | 'app' | 'none' | 'other';
  /** How the body arrived. */
  contentType: 'form' | 'json' | 'multipart' | 'query' | 'other';
  ok: boolean;
  /** The `error` of an ok:false answer, or `http_<status>` for an injected 5xx. */
  error?: string;
  /** HTTP status of the answer (0 when none was sent). */
  status: number;
  /** The JSON answer (undefined for an HTML/empty 5xx). */
  response?: Json;
  channel?: string;
  text?: string;
  ts?: string;
  thread_ts?: string;
  at: number;
}

export interface MrkdwnError extends MrkdwnFinding {
  method: string;
  channel?: string;
  /** Where in the call: 'text', 'blocks[0].text.text', 'chunks[0].text', 'initial_comment'... */
  field: string;
  /** The whole text checked. */
  text: string;
}

export interface AssistantThreadState {
  channel: string;
  thread_ts: string;
  /** The current status line ('' when cleared: by setStatus('') or by the bot's next reply). */
  status: string;
  loading_messages?: string[];
  /** Every status set, in order, cleared ones included as ''. */
  statusHistory: string[];
  title?: string;
  prompts?: Array<{ title: string; message: string }>;
  promptsTitle?: string;
  context?: Json;
}

export interface FailSpec {
  /** The Slack error (`ratelimited`, `invalid_auth`, `internal_error`...). */
  error?: string;
  /** HTTP status (default 200; 429 adds Retry-After; 5xx answers an HTML page or `body`). */
  status?: number;
  /** Seconds for Retry-After on a 429 (default 1). */
  retryAfter?: number;
  /** Extra fields for the JSON answer (`needed`, `provided`...). */
  extra?: Json;
  /** The raw body for a non-JSON answer (5xx); default an HTML error page. */
  body?: string;
}

export interface SlackInjector {
  /** The next `n` calls of `method` ('*' = any) answer with this failure; nothing is applied. */
  failNext(method: string, n: number, spec: FailSpec): void;
  /** The next `n` requests (of `method` when given) have their socket destroyed before anything is applied. */
  dropConnections(n: number, method?: string): void;
  /**
   * The next `n` calls of `method` ARE applied (the message is posted) but their socket is
   * destroyed instead of answered: the case where a client's retry posts the same reply twice.
   */
  loseResponses(n: number, method?: string): void;
  /** The next `n` calls of `method` ('*' = any) are answered only after `ms`. */
  delayNext(method: string, n: number, ms: number): void;
  /** Sends `{"type":"disconnect","reason"}` on every open socket (default reason refresh_requested). */
  disconnect(reason?: string): void;
  /** Terminates every open socket without a close frame. */
  dropSockets(): void;
  /**
   * The open sockets turn into zombies: they stay open, stop answering pings and silently swallow
   * the envelopes still delivered to them ("connected but deaf").
   */
  zombieSockets(): void;
  /** The next `n` acks are received but ignored (a lost ack): the envelope is delivered again on time out. */
  ignoreAcks(n?: number): void;
  /** The next `n` sockets (default 1) get their `hello` only after `ms` (for the stop-while-connecting race). */
  delayHello(ms: number, n?: number): void;
  /** Later calls with the token answer `error` (default invalid_auth; 'bot', 'app' or both). */
  revokeToken(opts?: { token?: 'bot' | 'app' | 'all'; error?: string }): void;
  /** Clears every pending injection and restores revoked tokens. */
  reset(): void;
}

export interface SocketAck {
  envelope_id: string;
  payload?: unknown;
  socket: number;
  at: number;
}

export type EnvelopeType = 'events_api' | 'slash_commands' | 'interactive';

export interface DeliveryAttempt {
  envelope_id: string;
  retry_attempt: number;
  retry_reason: string;
  /** The socket it went to (undefined when no socket was open). */
  socket?: number;
  at: number;
  ack?: SocketAck;
}

/** One event, command or action delivered over Socket Mode, with every (re)delivery of it. */
export interface Delivery {
  readonly type: EnvelopeType;
  /** The envelope payload (the event_callback body, the command's fields, the interactive payload). */
  readonly payload: Json;
  readonly attempts: DeliveryAttempt[];
  /** The first ack that arrived (for any of its envelopes). */
  readonly acked: SocketAck | undefined;
  /** true once every redelivery went unacked. */
  readonly gaveUp: boolean;
  /** Resolves with the ack; rejects after `ms` (default 3000) or when Slack gives up. */
  waitAck(ms?: number): Promise<SocketAck>;
}

export interface SocketStats {
  /** Sockets open now. */
  openSockets: number;
  /** The most sockets open at once. */
  maxOpenSockets: number;
  /** Sockets ever connected. */
  connections: number;
  /** apps.connections.open calls answered ok. */
  urlsIssued: number;
}

export interface SignOptions {
  /** Seconds since the epoch (default now). */
  timestamp?: number;
  /** Sign with another secret (default the emulator's signingSecret). */
  secret?: string;
}

export interface PostEventOptions extends SignOptions {
  /** Adds X-Slack-Retry-Num (and X-Slack-Retry-Reason, default 'http_timeout'). */
  retryNum?: number;
  retryReason?: string;
  /** Send this signature instead of the computed one. */
  signature?: string;
  /** Extra or replacing headers. */
  headers?: Record<string, string>;
}

export interface PostEventResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The raw body that was sent. */
  sent: string;
}

/**
 * The public types of the Discord emulator (see ../discord-server.ts). Plain shapes, no SDK types,
 * so the emulator typechecks on its own; the wire objects (messages, channels, interactions) are
 * `Json` because they are exactly what Discord sends, and tests read them like discord.js does.
 */

export type Json = Record<string, unknown>;

/** Gateway intents, as the IDENTIFY bitfield takes them. */
export const Intents = {
  Guilds: 1 << 0,
  GuildMembers: 1 << 1,
  GuildModeration: 1 << 2,
  GuildPresences: 1 << 8,
  GuildMessages: 1 << 9,
  GuildMessageReactions: 1 << 10,
  GuildMessageTyping: 1 << 11,
  DirectMessages: 1 << 12,
  DirectMessageReactions: 1 << 13,
  DirectMessageTyping: 1 << 14,
  MessageContent: 1 << 15,
} as const;

/** The intents the developer portal must switch on (else IDENTIFY closes with 4014). */
export const PRIVILEGED_INTENTS = Intents.GuildMembers | Intents.GuildPresences | Intents.MessageContent;

/** Every intent bit Discord knows today (0..25 minus the holes); others close with 4013. */
export const ALL_INTENTS = (1 << 26) - 1;

export interface DiscordServerOptions {
  /** The bot token (default: a realistic generated one, `<base64 bot id>.<6>.<38>`). */
  token?: string;
  /** The application id, which is also the bot user's id (default: a generated snowflake). */
  applicationId?: string;
  botUsername?: string;
  /**
   * The privileged intents switched on in the developer portal (a bitfield of GuildMembers,
   * GuildPresences, MessageContent). Default: MessageContent only. Asking for one that is off
   * closes the gateway with 4014 "Disallowed intent(s)."
   */
  privilegedIntents?: number;
  /** HELLO's heartbeat_interval (ms). Discord sends 41250; tests want ~100-250. */
  heartbeatIntervalMs?: number;
  /** An interaction must be answered (callback or HTTP response) within this (ms, default 3000). */
  interactionDeadlineMs?: number;
  /** An interaction token works on the webhook routes for this long (ms, default 15 min). */
  interactionTokenTtlMs?: number;
  /** Dispatch MESSAGE_CREATE/UPDATE/DELETE for the bot's own messages, as Discord does (default true). */
  echoOwnMessages?: boolean;
  /**
   * On RESUME, resend besides what the client missed the dispatches of the connection that died
   * (it may or may not have handled them: the case a de-duplication has to cover). Default true;
   * false replays strictly what came after the client's `seq`. Settable later on `inject`.
   */
  replayOnResume?: boolean;
  /**
   * The bucket every route + major parameter (channel, guild, webhook) gets: `limit` requests per
   * `windowMs`, advertised in X-RateLimit-* and enforced with a 429 (Discord's message route is 5
   * per 5 s). Default { limit: 10, windowMs: 1000 }; false turns enforcement off (headers stay).
   */
  rateLimit?: { limit: number; windowMs: number } | false;
  /** Commands the application already has (someone else's: the bot must leave them alone). */
  commands?: CommandSeed[];
  /** Largest upload per file (bytes, default 10 MiB like a server without boosts); over it is a 413. */
  maxFileBytes?: number;
}

export interface CommandSeed {
  name: string;
  description?: string;
  /** A guild command (default global). */
  guildId?: string;
  type?: number;
  options?: Json[];
}

/** A message as the users of the channel see it, after edits. A thread is its own channel. */
export interface VisibleMessage {
  id: string;
  channelId: string;
  guildId?: string;
  /** Posted by this emulator's bot (REST, interaction answers, follow-ups). */
  fromBot: boolean;
  authorId: string;
  author: string;
  content: string;
  embeds: Json[];
  components: Json[];
  attachments: VisibleAttachment[];
  /** 0 default, 19 reply, 20 chat input command answer, 23 context menu answer. */
  type: number;
  flags: number;
  /** The message this one replies to (message_reference). */
  replyTo?: string;
  messageReference?: { messageId: string; channelId: string; guildId?: string };
  /** Ephemeral interaction answers: seen by `visibleTo` only. */
  ephemeral: boolean;
  visibleTo?: string;
  /** The interaction this message answers (its original response or a follow-up). */
  interaction?: { id: string; type: number; name?: string; customId?: string; userId: string; original: boolean };
  /** A deferred answer still showing "<bot> is thinking...". */
  loading: boolean;
  /** Who got a notification when it was created (see DiscordServer.mentionsPinged). */
  pinged: Ping[];
  /** allowed_mentions exactly as sent (undefined when the body had none). */
  allowedMentions?: unknown;
  reactions: Array<{ emoji: string; me: boolean; count: number }>;
  edits: number;
  editedAt?: number;
  createdAt: number;
  webhookId?: string;
  nonce?: string | number;
}

export interface VisibleAttachment {
  id: string;
  filename: string;
  size: number;
  contentType?: string;
  description?: string;
  /** The signed CDN URL this emulator serves the bytes at. */
  url: string;
}

/** Someone a message notified: @everyone, @here, a role, a user, or the author of the replied message. */
export interface Ping {
  kind: 'everyone' | 'here' | 'role' | 'user' | 'replied_user';
  id?: string;
}

/** A message that notified someone (created, or edited to contain a parsed mention). */
export interface PingRecord {
  channelId: string;
  messageId: string;
  /** The call that did it, e.g. 'POST /channels/:id/messages'. */
  route: string;
  via: 'create' | 'edit';
  content: string;
  allowedMentions?: unknown;
  pinged: Ping[];
  at: number;
}

/** One REST request to the emulator (every /api route, the interaction callback and webhooks). */
export interface RestCall {
  method: string;
  /** The route template, e.g. 'POST /channels/:id/messages' ('?' for an unknown route). */
  route: string;
  /** A short name: createMessage, editMessage, deleteMessage, typing, interactionCallback, followup, editOriginal... */
  op: string;
  /** The path after /api/v10, as sent (webhook '@original' decoded). */
  path: string;
  query: Record<string, string>;
  /** The JSON body (or payload_json of a multipart body). */
  body: unknown;
  files: Array<{ field: string; filename: string; size: number; contentType?: string; data: Buffer }>;
  /** 'bot' = `Bot <the token>`, 'none' = no Authorization, 'other' = anything else. */
  auth: 'bot' | 'none' | 'other';
  /**
   * 'ok' / 'error': answered; 'dropped': socket destroyed before anything was applied; 'lost':
   * applied, then the socket was destroyed instead of answered (a retry posts twice).
   */
  outcome: 'ok' | 'error' | 'dropped' | 'lost';
  status: number;
  /** The JSON error of a failed call ({code, message, errors?}), or {status} for an HTML 5xx. */
  error?: Json;
  response?: unknown;
  /** A create with enforce_nonce that returned the earlier message with the same nonce. */
  deduplicated?: boolean;
  /** Set when the 429 came from the emulator's own bucket (not an injection). */
  rateLimited?: 'bucket' | 'injected';
  channelId?: string;
  messageId?: string;
  interactionId?: string;
  at: number;
}

export interface TypingCall {
  channelId: string;
  at: number;
}

export interface InteractionRecord {
  id: string;
  token: string;
  /** 1 PING, 2 APPLICATION_COMMAND, 3 MESSAGE_COMPONENT, 4 AUTOCOMPLETE, 5 MODAL_SUBMIT. */
  type: number;
  name?: string;
  customId?: string;
  channelId?: string;
  guildId?: string;
  userId?: string;
  /** The message a component sits on. */
  messageId?: string;
  /** How it reached the bot ('none' until delivered or posted). */
  via: 'gateway' | 'http' | 'none';
  /** When it was delivered (the 3 s deadline counts from here). */
  createdAt: number;
  /** The first accepted answer. */
  response?: { type: number; flags: number; ephemeral: boolean; via: 'rest' | 'http'; at: number; ms: number };
  /** Every callback attempt with the status it got (REST) or the HTTP answer. */
  callbacks: Array<{ type?: number; status: number; via: 'rest' | 'http'; at: number }>;
  /** Set when Discord would show "This interaction failed". */
  failed?: 'deadline' | 'bad-response';
  originalMessageId?: string;
  followups: string[];
  /** Set once a webhook route was refused because the token expired. */
  expired?: boolean;
  payload: Json;
}

export interface ApplicationCommand extends Json {
  id: string;
  application_id: string;
  version: string;
  type: number;
  name: string;
  description: string;
  guild_id?: string;
  options?: Json[];
}

/** A PUT that replaced a whole command set: what was there, what is there now, what it deleted. */
export interface CommandOverwrite {
  scope: 'global' | string;
  before: string[];
  after: string[];
  removed: string[];
  at: number;
}

export interface IdentifyRecord {
  sessionId?: string;
  intents: number;
  tokenOk: boolean;
  properties?: unknown;
  shard?: unknown;
  /** The close code it got instead of READY (4004, 4013, 4014...). */
  refused?: number;
  at: number;
}

/** A RESUME: what the client said it had, and every dispatch sent again (a "RESUME replay"). */
export interface ResumeRecord {
  sessionId: string;
  clientSeq: number | null;
  ok: boolean;
  /** '/gateway' or '/resume' (READY's resume_gateway_url). */
  path: string;
  replayed: Array<{ s: number; t: string; id?: string; alreadyDelivered: boolean }>;
  at: number;
}

export interface CloseRecord {
  connection: number;
  sessionId?: string;
  code: number;
  reason: string;
  by: 'server' | 'client';
  at: number;
}

/** One dispatch the emulator fanned out (deliver, dispatch, or its own echoes). */
export interface DispatchRecord {
  t: string;
  d: Json;
  /** Per identified session: its sequence number, and whether a socket took it now. */
  sessions: Array<{ sessionId: string; s: number; sent: boolean }>;
  /** Sessions whose intents filtered it out (Discord sends those nothing). */
  filtered: string[];
  at: number;
}

export interface SessionInfo {
  id: string;
  seq: number;
  intents: number;
  /** A socket carries it now. */
  connected: boolean;
  resumable: boolean;
  zombie: boolean;
}

export interface GatewayStats {
  /** Gateway sockets open now / the most at once / ever. */
  openSockets: number;
  maxOpenSockets: number;
  connections: number;
  identifies: number;
  resumes: number;
  heartbeats: number;
  heartbeatAcks: number;
  /** Dispatch frames sent (replays included) / frames re-sent by RESUME replays. */
  dispatched: number;
  replayed: number;
  /** REST requests answered 401, 403 or 429 (Discord bans an IP at 10,000 in 10 minutes). */
  invalidRequests: number;
  /** 429s served (bucket or injected). */
  rateLimited: number;
  restCalls: number;
}

export interface FailSpec {
  /** HTTP status (default 500). 429 adds Retry-After; 5xx answers an HTML page unless `body`. */
  status?: number;
  /** Seconds, in the Retry-After header and the JSON retry_after (default 1). */
  retryAfter?: number;
  /** A global 429: X-RateLimit-Global: true, X-RateLimit-Scope: global. */
  global?: boolean;
  /** The JSON error code and message (4xx other than 429). */
  code?: number;
  message?: string;
  /** The raw body (JSON value or string). */
  body?: unknown;
}

/**
 * Which REST calls an injection hits: '*', an HTTP method ('POST'), an op name
 * ('createMessage'), a route template ('POST /channels/:id/messages' or '/channels/:id/messages'),
 * a concrete path ('/channels/1234/messages'), or a predicate.
 */
export type RouteMatch = string | ((c: { method: string; route: string; op: string; path: string }) => boolean);

export interface DiscordInjector {
  /** The next `n` matching calls answer this failure; nothing is applied. */
  failNext(match: RouteMatch, n: number, spec: FailSpec): void;
  /**
   * The next `n` matching requests have their socket destroyed before anything is applied. By
   * default a clean close (undici: "other side closed", which @discordjs/rest does NOT retry);
   * `reset` cuts with a TCP RST (ECONNRESET, which it retries up to 3 times).
   */
  dropConnections(n: number, match?: RouteMatch, opts?: { reset?: boolean }): void;
  /**
   * The next `n` matching calls ARE applied, then their socket is destroyed instead of answered
   * (with `reset`, discord.js retries and posts twice unless the body has nonce + enforce_nonce).
   */
  loseResponses(n: number, match?: RouteMatch, opts?: { reset?: boolean }): void;
  /** The next `n` matching calls are answered only after `ms`. */
  delayNext(match: RouteMatch, n: number, ms: number): void;
  /**
   * Closes every open gateway socket with `code` (1006 or any code a close frame cannot carry:
   * the TCP connection is cut without one). The session stays resumable unless `invalidate` (or a
   * 1000/1001 close, after which discord.js identifies again).
   */
  closeGateway(code?: number, opts?: { reason?: string; invalidate?: boolean }): void;
  /** Open sockets stop answering heartbeats and swallow dispatches (kept for the RESUME replay). */
  zombie(): void;
  /** Sends op 7 RECONNECT on every open socket. */
  reconnect(): void;
  /** Sends op 9 INVALID_SESSION (d = resumable) on every open socket; not resumable ends the session. */
  invalidSession(resumable?: boolean): void;
  /** From now on the token is refused: REST 401, IDENTIFY/RESUME 4004 (or only one side). */
  revokeToken(opts?: { only?: 'rest' | 'gateway' }): void;
  /** See DiscordServerOptions.replayOnResume. */
  replayOnResume: boolean;
  /** Clears every pending injection, restores the token, stops zombies (replayOnResume back on). */
  reset(): void;
}

export interface SignedInteraction {
  body: string;
  timestamp: string;
  signature: string;
  headers: Record<string, string>;
}

export interface PostInteractionOptions {
  /** A signature that does not verify (a valid-looking hex string over other bytes). */
  badSignature?: boolean;
  /** Signed correctly, but with a timestamp 10 minutes old. */
  stale?: boolean;
  /** Seconds since the epoch (default now). */
  timestamp?: number;
  /** Extra or replacing headers. */
  headers?: Record<string, string>;
  /** Give up waiting for the endpoint after this (ms, default 10000). */
  timeoutMs?: number;
}

export interface PostInteractionResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json?: unknown;
  /** How long the endpoint took to answer (ms). */
  ms: number;
  /** The answer was taken as the interaction's response (2xx JSON callback, in time, first one). */
  applied: boolean;
  /** It came after the deadline: Discord had already shown "This interaction failed". */
  late: boolean;
  /** The raw body that was sent. */
  sent: string;
}

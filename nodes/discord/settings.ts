/**
 * The discord bot config node's settings as the editor saves them, checked and turned into what
 * the connection needs; and the in and out nodes' options. Kept apart from Node-RED so the rules
 * (token and key shapes, the API base, the interactions path, command names, bounded timings) are
 * tested on their own; the readings every platform shares are the kit's (config-values.ts).
 */
import { GatewayIntentBits } from 'discord.js';
import { backoffRange, baseUrl, downloadLimitBytes, routePath, secondsAsMs } from '../core/kit/config-values';

/** How Discord reaches the bot: the gateway (messages, slash commands), the HTTP interactions endpoint, or both. */
export type ReceiveMode = 'gateway' | 'both' | 'http';

export interface CommandSpec {
  /** Without the slash: `ask`. */
  name: string;
  description: string;
  /** The command takes one text option (`/ask text: ...`). */
  text: boolean;
}

export interface DiscordBotDef {
  id: string;
  name?: string;
  applicationId?: string;
  /** Empty = https://discord.com; otherwise an API proxy or a local emulator. */
  apiRoot?: string;
  receive?: string;
  /** Route on Node-RED's HTTP server for the interactions endpoint. */
  path?: string;
  /** The privileged MESSAGE_CONTENT intent (enable it in the developer portal first). */
  messageContent?: boolean | string;
  /** The slash commands this bot registers: an array of { name, description, text } (or JSON of one). */
  commands?: unknown;
  /** 'global' or 'guilds' (instant, in the listed servers only). */
  commandScope?: string;
  guildIds?: string;
  /** Register the commands on deploy (default on). */
  registerOnDeploy?: boolean | string;
  /** Advanced timings, seconds. */
  callTimeout?: number | string;
  retryMin?: number | string;
  retryMax?: number | string;
  maxRateWait?: number | string;
  loginTimeout?: number | string;
}

export interface DiscordBotCredentials {
  token?: string;
  publicKey?: string;
}

export interface BotSettings {
  applicationId?: string;
  apiRoot?: string;
  /** What @discordjs/rest takes as `api`: `${apiRoot}/api`. */
  api: string;
  /** The host attachments may be downloaded from besides Discord's CDN (an emulator, a proxy). */
  fileOrigin?: string;
  receive: ReceiveMode;
  path: string;
  intents: number;
  messageContent: boolean;
  commands: CommandSpec[];
  commandScope: 'global' | 'guilds';
  guildIds: string[];
  registerOnDeploy: boolean;
  callTimeoutMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  maxRateWaitMs: number;
  loginTimeoutMs: number;
}

/** i18n keys under `discord-bot.errors`. */
export type BotProblem = 'noToken' | 'badToken' | 'noPublicKey' | 'badPublicKey' | 'badApplicationId' | 'badApiRoot' | 'badPath' | 'badCommand' | 'badGuildIds' | 'noHttp' | 'pathInUse';

export const DEFAULTS = {
  callTimeoutMs: 15000,
  backoffMinMs: 1000,
  backoffMaxMs: 60000,
  maxRateWaitMs: 120000,
  loginTimeoutMs: 30000,
} as const;

export const DEFAULT_COMMANDS: CommandSpec[] = [{ name: 'ask', description: 'Ask the agent', text: true }];

/** Snowflakes: 17 to 20 digits. */
export const SNOWFLAKE = /^\d{17,20}$/;
/** Bot tokens are three dot-separated base64url parts (the bot id, a timestamp, an HMAC). */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}$/;
const PUBLIC_KEY = /^[0-9a-f]{64}$/i;
/** Discord's rule for chat input command names (lower case letters, digits, - and _ in any script). */
const COMMAND_NAME = /^[-_\p{Ll}\p{Lo}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u;

const on = (v: unknown, fallback: boolean) => (v === undefined || v === '' ? fallback : v === true || v === 'true');

/** The API base without trailing slash or `/api`; undefined = Discord's own. */
export function normalizeApiRoot(apiRoot: string | undefined): string | undefined {
  return baseUrl(baseUrl(apiRoot)?.replace(/\/api(\/v\d+)?$/, ''));
}

/** The commands as the editor saved them; undefined when they are not a list of commands at all. */
export function readCommands(value: unknown): CommandSpec[] | undefined {
  let v = value;
  if (typeof v === 'string') {
    if (!v.trim()) return DEFAULT_COMMANDS;
    try {
      v = JSON.parse(v);
    } catch {
      return undefined;
    }
  }
  if (v === undefined || v === null) return DEFAULT_COMMANDS;
  if (!Array.isArray(v)) return undefined;
  const out: CommandSpec[] = [];
  for (const c of v as unknown[]) {
    const r = (c ?? {}) as Record<string, unknown>;
    const name = typeof r.name === 'string' ? r.name.trim().replace(/^\//, '') : '';
    const description = typeof r.description === 'string' ? r.description.trim() : '';
    if (!name && !description) continue; // an empty row of the editor's list
    if (!COMMAND_NAME.test(name) || description.length < 1 || description.length > 100) return undefined;
    out.push({ name, description, text: r.text !== false && r.text !== 'false' });
  }
  // Discord refuses two commands of one name in a set; so does this.
  if (new Set(out.map((c) => c.name)).size !== out.length) return undefined;
  return out;
}

export function intentsFor(messageContent: boolean): number {
  const base = GatewayIntentBits.Guilds | GatewayIntentBits.GuildMessages | GatewayIntentBits.DirectMessages;
  return messageContent ? base | GatewayIntentBits.MessageContent : base;
}

export function readBotSettings(def: DiscordBotDef, credentials: DiscordBotCredentials): { settings: BotSettings; problems: BotProblem[] } {
  const problems: BotProblem[] = [];
  const token = (credentials.token ?? '').trim().replace(/^Bot\s+/i, '');
  const publicKey = (credentials.publicKey ?? '').trim();
  const receive: ReceiveMode = def.receive === 'both' || def.receive === 'http' ? def.receive : 'gateway';

  if (!token) problems.push('noToken');
  else if (!TOKEN_SHAPE.test(token)) problems.push('badToken');
  if (receive !== 'gateway') {
    if (!publicKey) problems.push('noPublicKey');
    else if (!PUBLIC_KEY.test(publicKey)) problems.push('badPublicKey');
  }
  const applicationId = (def.applicationId ?? '').trim();
  if (applicationId && !SNOWFLAKE.test(applicationId)) problems.push('badApplicationId');

  const apiRoot = normalizeApiRoot(def.apiRoot);
  let fileOrigin: string | undefined;
  if (apiRoot) {
    try {
      const u = new URL(apiRoot);
      if (!/^https?:$/.test(u.protocol)) throw new Error('protocol');
      fileOrigin = u.origin;
    } catch {
      problems.push('badApiRoot');
    }
  }
  const path = routePath(def.path, '/chatgate/discord', def.id);
  if (!/^\/[A-Za-z0-9_.~/-]*$/.test(path)) problems.push('badPath');

  const commands = readCommands(def.commands);
  if (!commands) problems.push('badCommand');
  const commandScope = def.commandScope === 'guilds' ? 'guilds' : 'global';
  const guildIds = (def.guildIds ?? '')
    .split(/[\s,]+/)
    .map((g) => g.trim())
    .filter(Boolean);
  if (guildIds.some((g) => !SNOWFLAKE.test(g)) || (commandScope === 'guilds' && guildIds.length === 0 && (commands ?? []).length > 0)) problems.push('badGuildIds');

  const messageContent = on(def.messageContent, false);
  return {
    settings: {
      ...(applicationId && SNOWFLAKE.test(applicationId) ? { applicationId } : {}),
      ...(apiRoot ? { apiRoot } : {}),
      api: `${apiRoot ?? 'https://discord.com'}/api`,
      ...(fileOrigin ? { fileOrigin } : {}),
      receive,
      path,
      intents: intentsFor(messageContent),
      messageContent,
      commands: commands ?? [],
      commandScope,
      guildIds,
      registerOnDeploy: on(def.registerOnDeploy, true),
      ...backoffRange(def.retryMin, def.retryMax, DEFAULTS),
      callTimeoutMs: secondsAsMs(def.callTimeout, DEFAULTS.callTimeoutMs, 0.1, 300),
      maxRateWaitMs: secondsAsMs(def.maxRateWait, DEFAULTS.maxRateWaitMs, 1, 3600),
      loginTimeoutMs: secondsAsMs(def.loginTimeout, DEFAULTS.loginTimeoutMs, 0.5, 600),
    },
    problems,
  };
}

/** The bot token as discord.js takes it (a pasted `Bot ` prefix removed). */
export function cleanToken(token: string | undefined): string {
  return (token ?? '').trim().replace(/^Bot\s+/i, '');
}

/** The discord in node's options. */
export interface InSettings {
  /** Guild messages: those that mention the bot or reply to it, or every message in the listed channels too. */
  guild: 'mention' | 'channels';
  /** Channel ids (a thread counts when its parent is listed). */
  channels: string[];
  ephemeral: boolean;
  download: boolean;
  maxDownloadBytes: number;
}

/** Discord serves attachments of up to 500 MB to boosted servers; more than this in a flow is a mistake. */
export const DISCORD_DOWNLOAD_LIMIT = 100 * 1024 * 1024;

export function readInSettings(def: { guild?: string; channels?: string; ephemeral?: unknown; download?: unknown; maxDownload?: unknown }): InSettings {
  const maxDownloadBytes = downloadLimitBytes(def.maxDownload, DISCORD_DOWNLOAD_LIMIT, 8);
  return {
    guild: def.guild === 'channels' ? 'channels' : 'mention',
    channels: (def.channels ?? '')
      .split(/[\s,]+/)
      .map((c) => c.trim())
      .filter((c) => SNOWFLAKE.test(c)),
    ephemeral: on(def.ephemeral, false),
    download: on(def.download, false),
    maxDownloadBytes,
  };
}

/** The discord out node's options. */
export interface OutSettings {
  replyToMessage: boolean;
  typing: boolean;
  /** allowed_mentions: nothing (default) or user mentions. */
  mentions: 'none' | 'users';
}

export function readOutSettings(def: { replyToMessage?: unknown; typing?: unknown; mentions?: string }): OutSettings {
  return { replyToMessage: on(def.replyToMessage, false), typing: on(def.typing, true), mentions: def.mentions === 'users' ? 'users' : 'none' };
}

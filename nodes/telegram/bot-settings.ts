/**
 * The bot config node's settings as the editor saves them, checked and turned into connection
 * options. Kept apart from Node-RED so the rules (apiRoot without trailing slash, webhook path,
 * bounded timings) are tested on their own; the readings every platform shares are the kit's
 * (config-values.ts).
 */
import { baseUrl, boundedNumber as seconds, routePath } from '../core/kit/config-values';
import { DEFAULTS, type TelegramMode } from './connection';

export interface TelegramBotDef {
  id: string;
  name?: string;
  mode?: string;
  apiRoot?: string;
  /** Long-poll timeout, seconds. */
  pollTimeout?: number | string;
  /** Public base URL of Node-RED's HTTP nodes, e.g. https://bots.example.com (webhook mode). */
  webhookUrl?: string;
  /** Route on Node-RED's HTTP server (webhook mode). */
  webhookPath?: string;
  /** Telegram's published rate limits on sends (default on). */
  throttle?: boolean | string;
  /** Advanced timings, seconds. */
  callTimeout?: number | string;
  retryMin?: number | string;
  retryMax?: number | string;
  stallMargin?: number | string;
}

export interface TelegramBotCredentials {
  token?: string;
}

export interface BotSettings {
  mode: TelegramMode;
  apiRoot?: string;
  pollTimeoutSec: number;
  webhookUrl: string;
  webhookPath: string;
  throttle: boolean;
  callTimeoutMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  stallMarginMs: number;
}

/** i18n keys under `telegram-bot.errors`. */
export type BotProblem = 'noToken' | 'badToken' | 'noWebhookUrl' | 'badWebhookUrl' | 'badApiRoot' | 'noHttp' | 'pathInUse';

/** A path on Node-RED's HTTP server: one leading slash, no trailing one. */
export function normalizeWebhookPath(path: string | undefined, nodeId: string): string {
  return routePath(path, '/chatgate/telegram', nodeId);
}

/** The Bot API root without trailing slash (grammy throws on one); undefined = Telegram's own. */
export const normalizeApiRoot = baseUrl;

export function readBotSettings(def: TelegramBotDef, credentials: TelegramBotCredentials): { settings: BotSettings; problems: BotProblem[] } {
  const problems: BotProblem[] = [];
  const token = (credentials.token ?? '').trim();
  if (!token) problems.push('noToken');
  // Telegram tokens are `<bot id>:<secret>`; anything else can only fail, and may be a pasted URL.
  else if (!/^\d+:[A-Za-z0-9_-]+$/.test(token)) problems.push('badToken');
  const mode: TelegramMode = def.mode === 'webhook' ? 'webhook' : 'polling';
  const apiRoot = normalizeApiRoot(def.apiRoot);
  if (apiRoot && !/^https?:\/\/[^\s/]+/.test(apiRoot)) problems.push('badApiRoot');
  const webhookUrl = baseUrl(def.webhookUrl) ?? '';
  if (mode === 'webhook') {
    if (!webhookUrl) problems.push('noWebhookUrl');
    else if (!/^https?:\/\/[^\s/]+/.test(webhookUrl)) problems.push('badWebhookUrl');
  }
  const retryMin = seconds(def.retryMin, DEFAULTS.backoffMinMs / 1000, 0.05, 600);
  return {
    settings: {
      mode,
      ...(apiRoot ? { apiRoot } : {}),
      pollTimeoutSec: Math.round(seconds(def.pollTimeout, DEFAULTS.pollTimeoutSec, 0, 50)),
      webhookUrl,
      webhookPath: normalizeWebhookPath(def.webhookPath, def.id),
      throttle: def.throttle !== false && def.throttle !== 'false',
      callTimeoutMs: seconds(def.callTimeout, DEFAULTS.callTimeoutMs / 1000, 0.1, 300) * 1000,
      backoffMinMs: retryMin * 1000,
      backoffMaxMs: Math.max(retryMin, seconds(def.retryMax, DEFAULTS.backoffMaxMs / 1000, 0.05, 3600)) * 1000,
      stallMarginMs: seconds(def.stallMargin, DEFAULTS.stallMarginMs / 1000, 0.05, 600) * 1000,
    },
    problems,
  };
}

/**
 * The slack app config node's settings as the editor saves them, checked and turned into what the
 * connection needs. Kept apart from Node-RED so the rules (token shapes, the API base URL without
 * trailing slash, the Events API path, bounded timings) are tested on their own.
 */
import { baseUrl, boundedNumber, routePath } from '../core/kit/config-values';

export type SlackMode = 'socket' | 'http';

export interface SlackAppDef {
  id: string;
  name?: string;
  /** 'socket' (default) or 'http' (the Events API posts to a route on Node-RED). */
  mode?: string;
  /** Empty = https://slack.com; otherwise e.g. https://slack-gov.com or a local emulator. */
  apiRoot?: string;
  /** Route on Node-RED's HTTP server for the Events API, slash commands and interactivity. */
  path?: string;
  /** Advanced timings, seconds. */
  callTimeout?: number | string;
  retryMin?: number | string;
  retryMax?: number | string;
  /** How long a Socket Mode ping may go unanswered before the socket is replaced. */
  pingTimeout?: number | string;
  /** The longest Retry-After a send waits out before it fails (a 429 storm must not hold a reply forever). */
  maxRateWait?: number | string;
}

export interface SlackAppCredentials {
  token?: string;
  appToken?: string;
  signingSecret?: string;
}

export interface AppSettings {
  mode: SlackMode;
  /** Without trailing slash; undefined = Slack's own. */
  apiRoot?: string;
  /** What the web clients take as slackApiUrl: `${apiRoot}/api/`. */
  slackApiUrl: string;
  path: string;
  callTimeoutMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  pingTimeoutMs: number;
  maxRateWaitMs: number;
}

/** i18n keys under `slack-app.errors`. */
export type AppProblem = 'noToken' | 'badToken' | 'noAppToken' | 'badAppToken' | 'noSigningSecret' | 'badApiRoot' | 'badPath' | 'noHttp' | 'pathInUse';

export const DEFAULTS = {
  callTimeoutMs: 15000,
  backoffMinMs: 1000,
  backoffMaxMs: 60000,
  pingTimeoutMs: 5000,
  maxRateWaitMs: 120000,
} as const;

const seconds = boundedNumber;

/** The API base without trailing slash (`https://slack.com`); undefined = Slack's own. */
export function normalizeApiRoot(apiRoot: string | undefined): string | undefined {
  // A pasted `https://slack.com/api/` means the same as `https://slack.com`.
  return baseUrl(baseUrl(apiRoot)?.replace(/\/api$/, ''));
}

/** Slack tokens are `xoxb-` (bot), `xapp-` (app-level) and so on, then digits, letters and dashes. */
const TOKEN_SHAPE = /^[A-Za-z0-9-]+$/;

export function readAppSettings(def: SlackAppDef, credentials: SlackAppCredentials): { settings: AppSettings; problems: AppProblem[] } {
  const problems: AppProblem[] = [];
  const token = (credentials.token ?? '').trim();
  const appToken = (credentials.appToken ?? '').trim();
  const signingSecret = (credentials.signingSecret ?? '').trim();
  const mode: SlackMode = def.mode === 'http' ? 'http' : 'socket';

  if (!token) problems.push('noToken');
  // A user token (xoxp-) would post as a person; anything else can only fail, and may be a pasted URL.
  else if (!token.startsWith('xoxb-') || !TOKEN_SHAPE.test(token)) problems.push('badToken');
  if (mode === 'socket') {
    if (!appToken) problems.push('noAppToken');
    else if (!appToken.startsWith('xapp-') || !TOKEN_SHAPE.test(appToken)) problems.push('badAppToken');
  } else if (!signingSecret) problems.push('noSigningSecret');

  const apiRoot = normalizeApiRoot(def.apiRoot);
  if (apiRoot && !/^https?:\/\/[^\s/]+(\/\S*)?$/.test(apiRoot)) problems.push('badApiRoot');
  const path = routePath(def.path, '/chatgate/slack', def.id);
  if (!/^\/[A-Za-z0-9_.~/-]*$/.test(path)) problems.push('badPath');

  const retryMin = seconds(def.retryMin, DEFAULTS.backoffMinMs / 1000, 0.05, 600);
  return {
    settings: {
      mode,
      ...(apiRoot ? { apiRoot } : {}),
      slackApiUrl: `${apiRoot ?? 'https://slack.com'}/api/`,
      path,
      callTimeoutMs: seconds(def.callTimeout, DEFAULTS.callTimeoutMs / 1000, 0.1, 300) * 1000,
      backoffMinMs: retryMin * 1000,
      backoffMaxMs: Math.max(retryMin, seconds(def.retryMax, DEFAULTS.backoffMaxMs / 1000, 0.05, 3600)) * 1000,
      pingTimeoutMs: seconds(def.pingTimeout, DEFAULTS.pingTimeoutMs / 1000, 0.3, 120) * 1000,
      maxRateWaitMs: seconds(def.maxRateWait, DEFAULTS.maxRateWaitMs / 1000, 1, 3600) * 1000,
    },
    problems,
  };
}

/**
 * The whatsapp account config node's settings as the editor saves them, checked and turned into
 * what the connection needs. Kept apart from Node-RED so the rules (the phone number id, the Graph
 * API version, the API base, the webhook path, bounded timings) are tested on their own; the
 * readings every platform shares are the kit's (config-values.ts).
 */
import { baseUrl, routePath, secondsAsMs } from '../core/kit/config-values';

/** A current Graph API version (Meta keeps each for about two years); settable per account. */
export const DEFAULT_GRAPH_VERSION = 'v25.0';
export const GRAPH_ROOT = 'https://graph.facebook.com';

export interface WhatsAppAccountDef {
  id: string;
  name?: string;
  phoneNumberId?: string;
  /** `v25.0`; empty = DEFAULT_GRAPH_VERSION. */
  version?: string;
  /** Empty = https://graph.facebook.com; otherwise a proxy or a local emulator. */
  apiRoot?: string;
  /** Route on Node-RED's HTTP server for Meta's webhook (GET verification and POST notifications). */
  path?: string;
  /** Advanced, seconds. */
  callTimeout?: number | string;
  /** How long a send waits out Meta's rate limits (131056, 130429) before it fails. */
  maxRateWait?: number | string;
  /** The pause after a 131056 (pair rate) answer before the part is sent again. */
  pairWait?: number | string;
  /** The least time between two messages to one user (the parts of a long reply). */
  pace?: number | string;
}

export interface WhatsAppCredentials {
  token?: string;
  appSecret?: string;
  verifyToken?: string;
}

export interface AccountSettings {
  phoneNumberId: string;
  version: string;
  /** `${apiRoot}/${version}`: every Graph call's prefix. */
  graphBase: string;
  /** The API host (media URLs must live there before the token goes with them). */
  apiOrigin: string;
  path: string;
  callTimeoutMs: number;
  maxRateWaitMs: number;
  pairWaitMs: number;
  paceMs: number;
}

/** i18n keys under `whatsapp-account.errors`. */
export type AccountProblem = 'noPhoneNumberId' | 'badPhoneNumberId' | 'noToken' | 'badToken' | 'noAppSecret' | 'noVerifyToken' | 'badVersion' | 'badApiRoot' | 'badPath' | 'noHttp' | 'pathInUse';

export const DEFAULTS = { callTimeoutMs: 15000, maxRateWaitMs: 120000, pairWaitMs: 6000, paceMs: 0 } as const;

/** Meta's ids are digits; a phone number (with +) pasted by mistake is told apart in the error. */
const PHONE_NUMBER_ID = /^\d{5,32}$/;
/** System user tokens are letters, digits and a few URL-safe signs; anything else is a paste mistake. */
const TOKEN_SHAPE = /^[A-Za-z0-9_\-.|]{16,2048}$/;

export function normalizeVersion(v: string | undefined): string | undefined {
  const s = (v ?? '').trim();
  if (!s) return DEFAULT_GRAPH_VERSION;
  const m = /^v?(\d{1,3})(?:\.(\d{1,2}))?$/.exec(s);
  return m ? `v${m[1]}.${m[2] ?? '0'}` : undefined;
}

export function readAccountSettings(def: WhatsAppAccountDef, credentials: WhatsAppCredentials): { settings: AccountSettings; problems: AccountProblem[] } {
  const problems: AccountProblem[] = [];
  const phoneNumberId = (def.phoneNumberId ?? '').trim();
  if (!phoneNumberId) problems.push('noPhoneNumberId');
  else if (!PHONE_NUMBER_ID.test(phoneNumberId)) problems.push('badPhoneNumberId');
  const token = (credentials.token ?? '').trim();
  if (!token) problems.push('noToken');
  else if (!TOKEN_SHAPE.test(token)) problems.push('badToken');
  if (!(credentials.appSecret ?? '').trim()) problems.push('noAppSecret');
  if (!(credentials.verifyToken ?? '').trim()) problems.push('noVerifyToken');

  const version = normalizeVersion(def.version);
  if (!version) problems.push('badVersion');
  // A pasted `https://graph.facebook.com/v25.0/` means the API root.
  const apiRoot = baseUrl(baseUrl(def.apiRoot)?.replace(/\/v\d+(\.\d+)?$/, '')) ?? GRAPH_ROOT;
  let apiOrigin = GRAPH_ROOT;
  try {
    const u = new URL(apiRoot);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
    apiOrigin = u.origin;
  } catch {
    problems.push('badApiRoot');
  }
  const path = routePath(def.path, '/chatgate/whatsapp', def.id);
  if (!/^\/[A-Za-z0-9_.~/-]*$/.test(path)) problems.push('badPath');

  return {
    settings: {
      phoneNumberId,
      version: version ?? DEFAULT_GRAPH_VERSION,
      graphBase: `${apiRoot}/${version ?? DEFAULT_GRAPH_VERSION}`,
      apiOrigin,
      path,
      callTimeoutMs: secondsAsMs(def.callTimeout, DEFAULTS.callTimeoutMs, 0.1, 300),
      maxRateWaitMs: secondsAsMs(def.maxRateWait, DEFAULTS.maxRateWaitMs, 1, 3600),
      pairWaitMs: secondsAsMs(def.pairWait, DEFAULTS.pairWaitMs, 0.01, 600),
      paceMs: secondsAsMs(def.pace, DEFAULTS.paceMs, 0, 60),
    },
    problems,
  };
}

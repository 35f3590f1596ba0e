/** Reads the gateway config node's editor fields into settings; empty or invalid values take the defaults. */
import type { NodeDef } from 'node-red';
import { StrategySchema } from '../core/envelope';
import { DEFAULT_SETTINGS, MINUTE, type GatewaySettings } from '../core/gateway-state';
import { isOff } from '../core/kit/config-values';
import { DEFAULT_TAKEOVER_IDLE_MS } from '../core/operator/takeover-book';
import { PAIRING_DEFAULTS } from '../core/pairing';
import { DEFAULT_RETENTION, type HistoryRetention } from '../core/store/rows';

export interface GatewayDef extends NodeDef {
  strategy?: string;
  sessionMinutes?: string | number;
  listenerTtlMinutes?: string | number;
  dedupeMinutes?: string | number;
  resetCommands?: string;
  store?: string;
  contextStore?: string;
  /** Redis down: 'wait' (messages queue) or 'fail' (messages fail with the reason). */
  redisPolicy?: string;
  /** Chat history on (the default) or off: off keeps no message text at all. */
  historyEnabled?: boolean | string;
  /** Days a message is kept; 0 = no age limit. */
  historyDays?: string | number;
  /** Messages kept per chat; 0 = no count limit. */
  historyPerChat?: string | number;
  /** Minutes without a message after which a takeover or hand-off request ends (default 30). */
  takeoverIdle?: string | number;
  /** Minutes a pairing code lives (default 60, at most a day). */
  pairingMinutes?: string | number;
  /** Pairing codes a sender may get in 24 hours (default 3, 1 to 20). */
  pairingPerDay?: string | number;
}

/** Reads a number of minutes from the editor; empty or invalid falls back to the default. */
export function minutes(value: unknown, fallbackMs: number): number {
  if (value === '' || value === undefined || value === null) return fallbackMs;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? Math.round(n * MINUTE) : fallbackMs;
}

export function settingsFromDef(def: GatewayDef): GatewaySettings {
  const strategy = StrategySchema.safeParse(def.strategy);
  const reset = (def.resetCommands ?? '')
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
  return {
    defaultStrategy: strategy.success ? strategy.data : DEFAULT_SETTINGS.defaultStrategy,
    sessionMs: minutes(def.sessionMinutes, DEFAULT_SETTINGS.sessionMs),
    listenerTtlMs: minutes(def.listenerTtlMinutes, DEFAULT_SETTINGS.listenerTtlMs) || DEFAULT_SETTINGS.listenerTtlMs,
    dedupeWindowMs: minutes(def.dedupeMinutes, DEFAULT_SETTINGS.dedupeWindowMs),
    resetCommands: def.resetCommands === undefined ? DEFAULT_SETTINGS.resetCommands : reset,
    retention: retentionFromDef(def),
  };
}

/** A count typed in the editor: a number >= 0, or the default when empty, negative or not a number. */
function nonNegative(value: unknown, fallback: number, whole: boolean): number {
  if (value === '' || value === undefined || value === null || typeof value === 'boolean') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) return fallback;
  return whole ? Math.floor(n) : n;
}

/** The chat history's retention; a flow from before these fields keeps history with the defaults. */
export function retentionFromDef(def: GatewayDef): HistoryRetention {
  return {
    enabled: !isOff(def.historyEnabled),
    days: nonNegative(def.historyDays, DEFAULT_RETENTION.days, false),
    perChat: nonNegative(def.historyPerChat, DEFAULT_RETENTION.perChat, true),
  };
}

/** The pairing limits: empty, zero or invalid takes the default (1 hour, 3 codes a day); bounded to a day and 20. */
export function pairingLimitsFromDef(def: GatewayDef): { ttlMs: number; perSenderPerDay: number } {
  const ttl = minutes(def.pairingMinutes, PAIRING_DEFAULTS.ttlMs) || PAIRING_DEFAULTS.ttlMs;
  const perDay = Math.floor(Number(def.pairingPerDay));
  return {
    ttlMs: Math.min(ttl, 24 * 60 * MINUTE),
    perSenderPerDay: Number.isFinite(perDay) && perDay >= 1 ? Math.min(perDay, 20) : PAIRING_DEFAULTS.perSenderPerDay,
  };
}

/** The operator's idle time in ms: empty, zero or invalid takes the default (30 minutes). */
export function takeoverIdleFromDef(def: GatewayDef): number {
  return minutes(def.takeoverIdle, DEFAULT_TAKEOVER_IDLE_MS) || DEFAULT_TAKEOVER_IDLE_MS;
}

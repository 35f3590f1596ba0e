/** Reads the gateway config node's editor fields into settings; empty or invalid values take the defaults. */
import type { NodeDef } from 'node-red';
import { StrategySchema } from '../core/envelope';
import { DEFAULT_SETTINGS, MINUTE, type GatewaySettings } from '../core/gateway-state';

export interface GatewayDef extends NodeDef {
  strategy?: string;
  sessionMinutes?: string | number;
  listenerTtlMinutes?: string | number;
  dedupeMinutes?: string | number;
  resetCommands?: string;
  store?: string;
  contextStore?: string;
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
  };
}


/**
 * An agent call node's settings, read once from its editor definition and credentials, with the
 * problems an operator must fix (shown on the node's status). Defaults are the ones the help names.
 */
import { DEFAULT_MEMORY_LIMITS, type MemoryLimits } from '../core/memory';
import { QUEUE_MODES, type QueueMode } from '../core/agent/turn-scheduler';
import { DEFAULT_STREAM_INTERVAL_MS } from '../core/agent/stream-throttle';
import { DEFAULT_HANDOFF_MARKER, DEFAULT_HANDOFF_TEXT } from '../core/operator/handoff-marker';

export type ProviderKind = 'openai' | 'http';
export type HttpAuth = 'none' | 'bearer' | 'hmac';

export const DEFAULT_BASE_URL = 'https://api.openai.com/v1';
export const DEFAULT_CALLBACK_BASE = 'http://127.0.0.1:1880';
export const DEFAULT_TIMEOUT_S = 60;
export const DEFAULT_RETRIES = 2;
export const DEFAULT_CONCURRENCY = 8;
export const DEFAULT_MAX_QUEUE = 10;
/** Messages waiting across all threads of one node: a ceiling on memory, not a tuning knob. */
export const MAX_TOTAL_QUEUE = 10_000;
export const DEFAULT_FALLBACK = 'Sorry, I could not answer just now. Please try again.';
export const CALLBACK_MAX_BYTES = 1024 * 1024;

export interface AgentCallDef {
  id: string;
  type?: string;
  name?: string;
  gateway?: string;
  provider?: string;
  baseUrl?: string;
  model?: string;
  /** 'str' (default), 'env' (resolved at deploy) or 'msg' (a message property, read per message). */
  modelType?: string;
  systemPrompt?: string;
  temperature?: string | number;
  maxTokens?: string | number;
  extraHeaders?: string;
  apiKeyEnv?: string;
  url?: string;
  auth?: string;
  includeHistory?: boolean;
  async?: boolean;
  callbackBase?: string;
  stream?: boolean;
  streamInterval?: string | number;
  typing?: boolean;
  memoryTurns?: string | number;
  memoryChars?: string | number;
  concurrency?: string | number;
  queueMode?: string;
  maxQueue?: string | number;
  timeout?: string | number;
  retries?: string | number;
  fallback?: string;
  /** The text in an agent's reply that asks for a person; empty = the default `[[handoff]]`. */
  handoffMarker?: string;
  /** What the user is told when a person is asked for. */
  handoffText?: string;
}

export interface AgentCallCredentials {
  apiKey?: string;
  token?: string;
  secret?: string;
}

export interface AgentCallSettings {
  provider: ProviderKind;
  baseUrl: string;
  model: string;
  /** Set when the model comes from a message property: its path, e.g. 'model' for msg.model. */
  modelFromMsg?: string;
  systemPrompt: string;
  temperature?: number;
  maxTokens?: number;
  extraHeaders: Record<string, string>;
  apiKeyEnv: string;
  url: string;
  auth: HttpAuth;
  includeHistory: boolean;
  async: boolean;
  callbackBase: string;
  stream: boolean;
  streamIntervalMs: number;
  typing: boolean;
  memory: MemoryLimits;
  concurrency: number;
  queueMode: QueueMode;
  maxQueue: number;
  timeoutMs: number;
  retries: number;
  fallback: string;
  handoffMarker: string;
  handoffText: string;
}

/** A configuration problem, as an i18n key under `agent-call.errors`. */
export type SettingsProblem = 'noUrl' | 'badUrl' | 'badBaseUrl' | 'badHeaders' | 'noModel' | 'noModelProperty' | 'noToken' | 'noSecret';

function num(value: unknown, fallback: number, { min = 0, integer = false }: { min?: number; integer?: boolean } = {}): number {
  if (value === '' || value === undefined || value === null) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) return fallback;
  return integer ? Math.floor(n) : n;
}

function optionalNum(value: unknown): number | undefined {
  if (value === '' || value === undefined || value === null) return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

function httpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === 'http:' || u.protocol === 'https:') && !u.username && !u.password;
  } catch {
    return false;
  }
}

/** `{"X-Title": "bot"}` -> headers; anything but a flat object of strings is a problem. */
export function parseHeaders(text: string | undefined): Record<string, string> | undefined {
  if (!text?.trim()) return {};
  try {
    const value: unknown = JSON.parse(text);
    if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(k) || (typeof v !== 'string' && typeof v !== 'number')) return undefined;
      out[k] = String(v);
    }
    return out;
  } catch {
    return undefined;
  }
}

export function readSettings(def: AgentCallDef, creds: AgentCallCredentials = {}): { settings: AgentCallSettings; problems: SettingsProblem[] } {
  const problems: SettingsProblem[] = [];
  const provider: ProviderKind = def.provider === 'http' ? 'http' : 'openai';
  const auth: HttpAuth = def.auth === 'bearer' || def.auth === 'hmac' ? def.auth : 'none';
  const baseUrl = (def.baseUrl ?? '').trim() || DEFAULT_BASE_URL;
  const url = (def.url ?? '').trim();
  const extraHeaders = parseHeaders(def.extraHeaders);
  const queueMode = QUEUE_MODES.find((m) => m === def.queueMode) ?? 'followup';
  if (provider === 'openai') {
    if (!httpUrl(baseUrl)) problems.push('badBaseUrl');
    if (!extraHeaders) problems.push('badHeaders');
    if (!(def.model ?? '').trim()) problems.push(def.modelType === 'msg' ? 'noModelProperty' : 'noModel');
  } else {
    if (!url) problems.push('noUrl');
    else if (!httpUrl(url)) problems.push('badUrl');
    if (auth === 'bearer' && !creds.token) problems.push('noToken');
    if (auth === 'hmac' && !creds.secret) problems.push('noSecret');
  }
  return {
    settings: {
      provider,
      baseUrl,
      model: def.modelType === 'msg' ? '' : (def.model ?? '').trim(),
      ...(def.modelType === 'msg' ? { modelFromMsg: (def.model ?? '').trim() } : {}),
      systemPrompt: def.systemPrompt ?? '',
      temperature: optionalNum(def.temperature),
      maxTokens: optionalNum(def.maxTokens),
      extraHeaders: extraHeaders ?? {},
      apiKeyEnv: (def.apiKeyEnv ?? '').trim(),
      url,
      auth,
      includeHistory: def.includeHistory !== false,
      async: def.async === true,
      callbackBase: (def.callbackBase ?? '').trim(),
      stream: def.stream !== false,
      streamIntervalMs: num(def.streamInterval, DEFAULT_STREAM_INTERVAL_MS, { min: 0 }),
      typing: def.typing !== false,
      memory: {
        maxTurns: num(def.memoryTurns, DEFAULT_MEMORY_LIMITS.maxTurns, { integer: true }),
        maxChars: num(def.memoryChars, DEFAULT_MEMORY_LIMITS.maxChars, { integer: true }),
      },
      concurrency: num(def.concurrency, DEFAULT_CONCURRENCY, { min: 1, integer: true }),
      queueMode,
      maxQueue: num(def.maxQueue, DEFAULT_MAX_QUEUE, { min: 1, integer: true }),
      // setTimeout fires at once past 2^31-1 ms.
      timeoutMs: Math.min(num(def.timeout, DEFAULT_TIMEOUT_S, { min: 0.001 }) * 1000, 2 ** 31 - 1),
      retries: num(def.retries, DEFAULT_RETRIES, { integer: true }),
      fallback: def.fallback || DEFAULT_FALLBACK,
      handoffMarker: (def.handoffMarker ?? '').trim() || DEFAULT_HANDOFF_MARKER,
      handoffText: (def.handoffText ?? '').trim() || DEFAULT_HANDOFF_TEXT,
    },
    problems,
  };
}

/** The secrets a message or status must never show: credentials and the API key from the environment. */
export function secretsOf(settings: AgentCallSettings, creds: AgentCallCredentials, defaultKeyEnv: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const keyEnv = settings.apiKeyEnv || defaultKeyEnv;
  const list = [creds.apiKey, creds.token, creds.secret, settings.provider === 'openai' ? env[keyEnv] : undefined];
  return list.filter((s): s is string => typeof s === 'string' && s.length >= 4);
}

/** `text` with every secret replaced, for status, logs and error messages. */
export function scrub(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join('***');
  return out;
}

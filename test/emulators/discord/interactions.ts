/**
 * Interactions as Discord sends them: builders for a PING, a slash command (chat input, with
 * options) and a component press, in a guild channel, a thread or a DM; the Ed25519 signer
 * (X-Signature-Ed25519 over timestamp + raw body, with a key pair generated per emulator, the
 * public key in hex as the developer portal shows it); and a poster for an HTTP interactions
 * endpoint that takes the endpoint's answer as the interaction response, within the deadline.
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import * as http from 'node:http';
import { ApiError } from './checks';
import { parseMultipart } from './rest';
import type { DiscordState, StoredMessage } from './state';
import type { InteractionRecord, Json, PostInteractionOptions, PostInteractionResult, RestCall, SignedInteraction } from './types';

export interface InteractionContext {
  /** The user (default the fixture user). */
  user?: string;
  /** The channel (default the fixture channel; with `dm`, the user's DM). */
  channel?: string;
  /** In the user's DM with the bot. */
  dm?: boolean;
  /** An id for the interaction (default a new snowflake). */
  id?: string;
  locale?: string;
}

export interface SlashCommandOptions extends InteractionContext {
  /** Option values by name (string 3, integer 4, boolean 5, number 10), or the raw options array. */
  options?: Record<string, string | number | boolean> | Json[];
  /** The command's id (default: the registered command of that name, else a new snowflake). */
  commandId?: string;
  /** 1 chat input (default), 2 user, 3 message context menu. */
  commandType?: number;
}

export interface ComponentOptions extends InteractionContext {
  /** The message the component is on (default: the channel's latest bot message with components). */
  message?: string;
  /** 2 button (default), 3 string select... */
  componentType?: number;
  values?: string[];
}

export interface InteractionDeps {
  state: DiscordState;
  fixtures: () => { user: string; channel: string; guild: string };
  interactionDeadlineMs: number;
  applyCallback(it: InteractionRecord, body: Json, files: RestCall['files'], via: 'http', route: string): StoredMessage | undefined;
  record(call: RestCall): void;
}

/** The raw 32-byte Ed25519 public key from a KeyObject (the SPKI DER ends with it). */
export function rawPublicKeyHex(key: KeyObject): string {
  return key.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex');
}

export function createInteractions(deps: InteractionDeps) {
  const { state } = deps;
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const publicKeyHex = rawPublicKeyHex(publicKey);
  const timers = new Set<NodeJS.Timeout>();

  function newToken(id: string): string {
    const tail = Buffer.from(`interaction:${id}:${randomBytes(48).toString('base64url')}`).toString('base64url');
    return tail;
  }

  function context(ctx: InteractionContext): Json {
    const f = deps.fixtures();
    const userId = ctx.user ?? f.user;
    const dm = ctx.dm === true || (ctx.channel !== undefined && state.channels.get(ctx.channel)?.type === 1);
    const channelId = dm ? (ctx.channel ?? state.dmWith(userId).id) : (ctx.channel ?? f.channel);
    const ch = state.channels.get(channelId);
    const guildId = dm ? undefined : ch?.guildId;
    const id = ctx.id ?? state.ids.next();
    return {
      app_permissions: '2248473465835073',
      application_id: state.applicationId,
      attachment_size_limit: 10_485_760,
      authorizing_integration_owners: guildId ? { 0: guildId } : { 0: '0' },
      channel: { ...state.apiChannel(channelId), ...(guildId ? { permissions: '2248473465835073' } : {}) },
      channel_id: channelId,
      context: guildId ? 0 : 1,
      entitlement_sku_ids: [],
      entitlements: [],
      ...(guildId
        ? {
            guild: { features: [], id: guildId, locale: 'en-US' },
            guild_id: guildId,
            guild_locale: 'en-US',
            member: { ...state.apiMember(guildId, userId, true), permissions: '2248473465835073', unusual_dm_activity_until: null },
          }
        : { user: state.apiUser(userId) }),
      id,
      locale: ctx.locale ?? 'en-US',
      token: newToken(id),
      version: 1,
    };
  }

  function optionsOf(o: SlashCommandOptions['options']): Json[] | undefined {
    if (o === undefined) return undefined;
    if (Array.isArray(o)) return o;
    return Object.entries(o).map(([name, value]) => ({ name, type: typeof value === 'string' ? 3 : typeof value === 'boolean' ? 5 : Number.isInteger(value) ? 4 : 10, value }));
  }

  function slashCommand(name: string, opts: SlashCommandOptions = {}): Json {
    const base = context(opts);
    const guildId = base.guild_id as string | undefined;
    const registered = (guildId ? state.commandScope(guildId).find((c) => c.name === name) : undefined) ?? state.commandScope().find((c) => c.name === name);
    const options = optionsOf(opts.options);
    const payload: Json = {
      ...base,
      type: 2,
      data: {
        id: opts.commandId ?? registered?.id ?? state.ids.next(),
        name,
        type: opts.commandType ?? 1,
        ...(options ? { options } : {}),
        ...(registered?.guild_id ? { guild_id: registered.guild_id } : {}),
      },
    };
    state.registerInteraction(payload, 'none');
    return payload;
  }

  function component(customId: string, opts: ComponentOptions = {}): Json {
    const base = context(opts);
    const channelId = String(base.channel_id);
    const list = state.messages.get(channelId) ?? [];
    const target = opts.message
      ? list.find((m) => m.view.id === opts.message)
      : ([...list].reverse().find((m) => m.view.fromBot && !m.view.ephemeral && m.view.components.length) ?? [...list].reverse().find((m) => m.view.fromBot));
    if (!target) throw new Error(`make.component: no bot message in channel ${channelId} (post one with components first, or pass message)`);
    const componentType = opts.componentType ?? 2;
    const payload: Json = {
      ...base,
      type: 3,
      message: state.apiMessage(target),
      data: { custom_id: customId, component_type: componentType, ...(opts.values ? { values: opts.values } : componentType === 3 ? { values: [] } : {}) },
    };
    state.registerInteraction(payload, 'none');
    return payload;
  }

  function ping(): Json {
    const id = state.ids.next();
    const owner = [...state.users.values()].find((u) => !u.bot);
    const payload: Json = { application_id: state.applicationId, entitlements: [], id, token: newToken(id), type: 1, ...(owner ? { user: state.apiUser(owner.id) } : {}), version: 1 };
    state.registerInteraction(payload, 'none');
    return payload;
  }

  function signInteraction(body: string | Buffer | Json, opts: { timestamp?: number; privateKeyPem?: string } = {}): SignedInteraction {
    const raw = typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('utf8') : JSON.stringify(body);
    const timestamp = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
    const key = opts.privateKeyPem ? createPrivateKey(opts.privateKeyPem) : privateKey;
    const signature = sign(null, Buffer.concat([Buffer.from(timestamp), Buffer.from(raw)]), key).toString('hex');
    return { body: raw, timestamp, signature, headers: { 'X-Signature-Ed25519': signature, 'X-Signature-Timestamp': timestamp } };
  }

  function callRecord(it: InteractionRecord, status: number, body: unknown, files: RestCall['files']): RestCall {
    return {
      method: 'RESPONSE',
      route: 'RESPONSE (HTTP interactions endpoint)',
      op: 'interactionResponse',
      path: '(http response)',
      query: {},
      body,
      files,
      auth: 'none',
      outcome: 'ok',
      status,
      interactionId: it.id,
      ...(it.channelId ? { channelId: it.channelId } : {}),
      at: Date.now(),
    };
  }

  function postInteraction(url: string, interaction: Json, opts: PostInteractionOptions = {}): Promise<PostInteractionResult> {
    const probe = opts.badSignature === true || opts.stale === true;
    const rec = probe ? undefined : state.registerInteraction(interaction, 'http');
    const body = JSON.stringify(interaction);
    const ts = opts.stale ? Math.floor(Date.now() / 1000) - 600 : opts.timestamp;
    const signed = signInteraction(opts.badSignature ? `${body} ` : body, ts !== undefined ? { timestamp: ts } : {});
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      'Content-Length': String(Buffer.byteLength(body)),
      'User-Agent': 'Discord-Interactions/1.0 (+https://discord.com)',
      ...signed.headers,
      ...opts.headers,
    };
    const started = Date.now();
    return new Promise((resolve, reject) => {
      const req = http.request(url, { method: 'POST', headers, agent: false });
      const t = setTimeout(() => req.destroy(new Error(`postInteraction: no answer within ${opts.timeoutMs ?? 10000} ms`)), opts.timeoutMs ?? 10000);
      timers.add(t);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          clearTimeout(t);
          timers.delete(t);
          const raw = Buffer.concat(chunks);
          const text = raw.toString('utf8');
          const ms = Date.now() - started;
          const type = String(res.headers['content-type'] ?? '');
          let json: unknown;
          let files: RestCall['files'] = [];
          try {
            if (type.startsWith('multipart/form-data')) {
              const boundary = /boundary=("?)([^";]+)\1/i.exec(type)?.[2] ?? '';
              const parts = parseMultipart(raw, boundary);
              json = JSON.parse(parts.find((p) => p.name === 'payload_json')?.data.toString('utf8') ?? '{}');
              files = parts.filter((p) => p.filename !== undefined).map((p) => ({ field: p.name ?? '', filename: p.filename ?? '', size: p.data.length, ...(p.contentType ? { contentType: p.contentType } : {}), data: p.data }));
            } else if (text) json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          let applied = false;
          let late = false;
          if (rec) {
            late = Date.now() - rec.createdAt > deps.interactionDeadlineMs;
            const call = callRecord(rec, res.statusCode ?? 0, json ?? text, files);
            rec.callbacks.push({ ...(json && typeof json === 'object' && typeof (json as Json).type === 'number' ? { type: (json as Json).type as number } : {}), status: res.statusCode ?? 0, via: 'http', at: Date.now() });
            const ok2xx = (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300;
            if (late) {
              rec.failed ??= 'deadline';
              call.outcome = 'error';
              call.error = { message: `answered after ${ms} ms: the ${deps.interactionDeadlineMs} ms deadline had passed ("This interaction failed")` };
            } else if (!ok2xx || !json || typeof json !== 'object' || typeof (json as Json).type !== 'number') {
              rec.failed ??= 'bad-response';
              call.outcome = 'error';
              call.error = { message: 'not an interaction response (want 2xx JSON {type, data?})' };
            } else {
              try {
                const m = deps.applyCallback(rec, json as Json, files, 'http', call.route);
                if (m) call.messageId = m.view.id;
                applied = true;
              } catch (err) {
                if (!(err instanceof ApiError)) throw err;
                rec.failed ??= 'bad-response';
                call.outcome = 'error';
                call.error = err.body;
              }
            }
            deps.record(call);
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, ...(json !== undefined ? { json } : {}), ms, applied, late, sent: body });
        });
        res.on('error', reject);
      });
      req.on('error', (err) => {
        clearTimeout(t);
        timers.delete(t);
        if (rec) rec.failed ??= 'deadline';
        reject(err);
      });
      req.end(body);
    });
  }

  return {
    publicKey,
    publicKeyHex,
    make: { slashCommand, component, ping },
    signInteraction,
    postInteraction,
    close: () => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  };
}

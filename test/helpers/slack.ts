/**
 * Shared by the Slack node tests: the emulator's tokens, loading a flow with the Slack nodes
 * (catalogs translated to the English an operator sees), an app config node with fast timings,
 * and collecting everything the nodes said (log lines and statuses) to search for secrets.
 */
import { startSlackServer, type SlackServer, type SlackServerOptions } from '../emulators/slack-server';
import { catalogTranslator, helper, nodeModules, unload, useUserDir, type AnyRED, type ModuleName } from './red';

export const BOT_TOKEN = 'xoxb-1111111111-2222222222-TESTbotSECRETvalue';
export const APP_TOKEN = 'xapp-1-A0EM0000001-3333333333-TESTappSECRETvalue';
export const SIGNING_SECRET = '8f742231b10e8888abcd99yyyzzz85a5';

/** The Slack emulator with this file's tokens. */
export function startEmulator(over: Partial<SlackServerOptions> = {}): Promise<SlackServer> {
  return startSlackServer({ botToken: BOT_TOKEN, appToken: APP_TOKEN, signingSecret: SIGNING_SECRET, ...over });
}

/**
 * Mocha hooks for a Slack test file: a fresh user directory and emulator before each test
 * (handed to `set`), the flow unloaded and the emulator (`get`: a test may have replaced it) closed after.
 */
export function useEmulator(get: () => SlackServer | undefined, set: (s: SlackServer) => void, over: Partial<SlackServerOptions> = {}): void {
  beforeEach(async () => {
    useUserDir();
    set(await startEmulator(over));
  });
  afterEach(async () => {
    await unload();
    await get()?.close();
  });
}

export type FlowNode = { id: string; type: string; [key: string]: unknown };

/** The helper's RED._ returns bare keys; this reads the built catalogs of every Slack node. */
export const translate = catalogTranslator('slack', 'slack-');

export interface Credentials {
  token?: string;
  appToken?: string;
  signingSecret?: string;
}

export const CREDENTIALS: Credentials = { token: BOT_TOKEN, appToken: APP_TOKEN, signingSecret: SIGNING_SECRET };

/** Loads `flow` with the gateway and the Slack nodes; the app config node's id is 'app'. */
export async function loadFlow(flow: FlowNode[], credentials: Credentials = CREDENTIALS, modules: ModuleName[] = ['gateway', 'slackApp', 'slackIn', 'slackOut']): Promise<void> {
  const mods = nodeModules(modules).map((mod) => (RED: AnyRED) => {
    RED._ = translate;
    return mod(RED);
  });
  await helper.load(mods, flow as Parameters<typeof helper.load>[1], { app: credentials });
}

/** Fast timings: retries after 50 ms, a 0.6 s ping timeout (so reconnects are quick), 1 s call timeout. */
export function appNode(apiUrl: string, over: Record<string, unknown> = {}): FlowNode {
  return { id: 'app', type: 'chatgate-slack-app', name: 'test app', apiRoot: apiUrl.replace(/\/api\/?$/, ''), mode: 'socket', callTimeout: 2, retryMin: 0.05, retryMax: 0.2, pingTimeout: 0.6, maxRateWait: 30, ...over };
}

export const gateway: FlowNode = { id: 'gw', type: 'chatgate-gateway', name: 'test gateway' };

export function statusTexts(nodeId: string): string[] {
  const node = helper.getNode(nodeId) as AnyRED;
  const spy = node.status as { getCalls?: () => Array<{ thisValue: { id: string }; args: Array<{ text?: string }> }> };
  if (!spy.getCalls) return [];
  return spy
    .getCalls()
    .filter((c) => c.thisValue?.id === nodeId)
    .map((c) => c.args[0]?.text ?? '');
}

/**
 * Everything the nodes said since the flow was loaded: every log line (node.log/warn/error/debug
 * go through the runtime's log) and every status text of every node, for the secret checks.
 */
export function everythingSaid(anyNodeId: string): string[] {
  const log = (helper.log() as { args: unknown[][] }).args.map((a) => JSON.stringify(a));
  const node = helper.getNode(anyNodeId) as AnyRED;
  const calls = (node?.status?.getCalls?.() ?? []) as Array<{ args: Array<{ text?: unknown }> }>;
  return [...log, ...calls.map((c) => String(c.args[0]?.text ?? ''))];
}

/**
 * Resolves when node `id` has finished `n` more whole replies (done() without an error for a
 * message that is not a typing signal or a streamed partial), or fails on its first error.
 * (telegram-out.test.ts has the same helper for its node; both could live in helpers/red.ts.)
 */
export function delivered(id: string, n = 1, ms = 15000): Promise<void> {
  const node = helper.getNode(id) as AnyRED;
  return new Promise((resolve, reject) => {
    let left = n;
    const timer = setTimeout(() => finish(new Error(`${left} of ${n} deliveries still missing after ${ms} ms`)), ms);
    // The runtime calls node._complete(msg, err) when the input handler calls done().
    const complete = node._complete;
    node._complete = function (this: unknown, msg: { event?: string; stream?: { done?: boolean } }, err?: unknown) {
      const whole = !err && msg?.event !== 'typing' && !(msg?.stream && !msg.stream.done);
      const r = complete.call(this, msg, err);
      if (whole && --left === 0) finish();
      return r;
    };
    const onError = (call: { args: unknown[] }) => finish(new Error(`delivery failed: ${String(call.args[0])}`));
    function finish(err?: Error): void {
      clearTimeout(timer);
      delete node._complete;
      node.removeListener('call:error', onError);
      if (err) reject(err);
      else resolve();
    }
    node.on('call:error', onError);
  });
}

/** The next done(err) of node `id` (node.error, which the helper reports as `call:error`). */
export function failure(id: string, ms = 10000): Promise<string> {
  const node = helper.getNode(id) as AnyRED;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no error at ${id}`)), ms);
    node.once('call:error', (call: { args: unknown[] }) => {
      clearTimeout(timer);
      const e = call.args[0];
      resolve(e instanceof Error ? e.message : String(e));
    });
  });
}

/** An inbound envelope's chat for Slack, for tests that start at the out node. */
export function slackChat(over: { chatId: string; userId: string; threadId?: string; messageId?: string; teamId?: string; chatType?: string }) {
  const messageId = over.messageId ?? `${Math.floor(Date.now() / 1000)}.${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}`;
  const replyTo = {
    platform: 'slack',
    channelId: 'app',
    chatId: over.chatId,
    messageId,
    userId: over.userId,
    ...(over.threadId ? { threadId: over.threadId } : {}),
    ...(over.teamId ? { teamId: over.teamId } : {}),
  };
  return {
    platform: 'slack',
    channelId: 'app',
    chatId: over.chatId,
    chatJid: `slack:${over.chatId}`,
    chatType: over.chatType ?? (over.chatId.startsWith('D') ? 'direct' : 'channel'),
    ...(over.threadId ? { threadId: over.threadId } : {}),
    userId: over.userId,
    userJid: `slack:${over.userId}`,
    isBot: false,
    messageId,
    mentioned: true,
    attachments: [],
    receivedAt: new Date().toISOString(),
    replyTo,
  };
}

/**
 * Shared by the Discord node tests: the emulator, loading a flow with the Discord nodes (catalogs
 * translated to the English an operator sees), a bot config node with fast timings, an envelope
 * for tests that start at the out node, and the HTTP server the interactions endpoint is mounted
 * on. The platform-neutral waits (delivered, failure, everythingSaid, statusTexts) are the Slack
 * helpers' (they could live in red.ts).
 */
import { startDiscordServer, type DiscordServer, type DiscordServerOptions } from '../emulators/discord-server';
import { catalogTranslator, captured, helper, nodeModules, unload, useUserDir, type AnyRED, type ModuleName } from './red';

export { delivered, everythingSaid, failure, statusTexts } from './slack';

export type FlowNode = { id: string; type: string; [key: string]: unknown };

/** The emulator with a quick heartbeat (zombie and resume tests need one). */
export function startEmulator(over: DiscordServerOptions = {}): Promise<DiscordServer> {
  return startDiscordServer({ heartbeatIntervalMs: 250, ...over });
}

/**
 * Mocha hooks for a Discord test file: a fresh user directory and emulator before each test
 * (handed to `set`), the flow unloaded and the emulator (`get`: a test may have replaced it) closed after.
 */
export function useEmulator(get: () => DiscordServer | undefined, set: (s: DiscordServer) => void, over: DiscordServerOptions = {}): void {
  beforeEach(async () => {
    useUserDir();
    set(await startEmulator(over));
  });
  afterEach(async () => {
    await unload();
    await get()?.close();
  });
}

/** Node-RED's HTTP server for a test file, with RED.httpNode of whichever flow is loaded behind it. */
export function useHttpServer(): void {
  before(async () => {
    await helper.startServer();
    // The helper's server serves its own express app; route it to whichever httpNode the current flow got.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    (helper as any)._app.use((req: any, res: any, next: any) => (captured.RED ? captured.RED.httpNode(req, res, next) : next()));
  });
  after(async () => {
    await helper.stopServer();
  });
}

/** The helper's RED._ returns bare keys; this reads the built catalogs of every Discord node. */
export const translate = catalogTranslator('discord', 'discord-');

export interface Credentials {
  token?: string;
  publicKey?: string;
}

export const MODULES: ModuleName[] = ['gateway', 'discordBot', 'discordIn', 'discordOut'];

/** Loads `flow` with the gateway and the Discord nodes; the bot config node's id is 'bot'. */
export async function loadFlow(flow: FlowNode[], credentials: Credentials, modules: ModuleName[] = MODULES): Promise<void> {
  const mods = nodeModules(modules).map((mod) => (RED: AnyRED) => {
    const own = RED._;
    RED._ = (key: string, params?: Record<string, string>) => (key.startsWith('discord-') ? translate(key, params) : own(key, params));
    return mod(RED);
  });
  await helper.load(mods, flow as Parameters<typeof helper.load>[1], { bot: credentials });
}

/** Fast timings: retries after 50 ms, a 2 s call timeout, login said slow after 3 s; no commands unless asked. */
export function botNode(discord: DiscordServer, over: Record<string, unknown> = {}): FlowNode {
  return { id: 'bot', type: 'chatgate-discord-bot', name: 'test bot', apiRoot: discord.baseUrl, receive: 'gateway', commands: [], callTimeout: 2, retryMin: 0.05, retryMax: 0.2, maxRateWait: 30, loginTimeout: 3, ...over };
}

export const gateway: FlowNode = { id: 'gw', type: 'chatgate-gateway', name: 'test gateway' };

/** An inbound envelope's chat for Discord, for tests that start at the out node. */
export function discordChat(over: { chatId: string; userId: string; threadId?: string; messageId?: string; interactionId?: string; chatType?: string }) {
  const messageId = over.messageId ?? over.interactionId ?? `${BigInt(Date.now() - 1420070400000) << 22n}`;
  const replyTo = {
    platform: 'discord',
    channelId: 'bot',
    chatId: over.chatId,
    messageId,
    userId: over.userId,
    ...(over.threadId ? { threadId: over.threadId } : {}),
    ...(over.interactionId ? { interactionId: over.interactionId } : {}),
  };
  return {
    platform: 'discord',
    channelId: 'bot',
    chatId: over.chatId,
    chatJid: `discord:${over.chatId}`,
    chatType: over.chatType ?? 'channel',
    ...(over.threadId ? { threadId: over.threadId } : {}),
    userId: over.userId,
    userJid: `discord:${over.userId}`,
    isBot: false,
    messageId,
    mentioned: true,
    attachments: [],
    receivedAt: new Date().toISOString(),
    replyTo,
  };
}

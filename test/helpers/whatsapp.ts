/**
 * Shared by the WhatsApp node tests: the Cloud API emulator, loading a flow with the WhatsApp
 * nodes (catalogs translated to the English an operator sees), an account config node with fast
 * timings, an envelope for tests that start at the out node, and the HTTP server Meta's webhook is
 * mounted on. The platform-neutral waits are the Slack helpers'.
 */
import { startWhatsAppServer, type WhatsAppServer, type WhatsAppServerOptions } from '../emulators/whatsapp-server';
import { catalogTranslator, helper, nodeModules, unload, useUserDir, type AnyRED, type ModuleName } from './red';

export { delivered, everythingSaid, failure, statusTexts } from './slack';
export { useHttpServer } from './discord';

export type FlowNode = { id: string; type: string; [key: string]: unknown };

export const VERIFY_TOKEN = 'verify-me-chatgate-4411';
export const PATH = '/wa/hook';

/**
 * Mocha hooks for a WhatsApp test file: a fresh user directory and emulator before each test
 * (handed to `set`), the flow unloaded and the emulator closed after.
 */
export function useEmulator(get: () => WhatsAppServer | undefined, set: (s: WhatsAppServer) => void, over: WhatsAppServerOptions = {}): void {
  beforeEach(async () => {
    useUserDir();
    set(await startWhatsAppServer(over));
  });
  afterEach(async () => {
    await unload();
    await get()?.close();
  });
}

/** The helper's RED._ returns bare keys; this reads the built catalogs of every WhatsApp node. */
export const translate = catalogTranslator('whatsapp', 'whatsapp-');

export interface Credentials {
  token?: string;
  appSecret?: string;
  verifyToken?: string;
}

export function credentials(wa: WhatsAppServer): Credentials {
  return { token: wa.token, appSecret: wa.appSecret, verifyToken: VERIFY_TOKEN };
}

export const MODULES: ModuleName[] = ['gateway', 'whatsappAccount', 'whatsappIn', 'whatsappOut'];

/** Translates the WhatsApp nodes' catalog keys for every module loaded. */
export function translated(names: ModuleName[]): Array<(RED: AnyRED) => void> {
  return nodeModules(names).map((mod) => (RED: AnyRED) => {
    const own = RED._;
    RED._ = (key: string, params?: Record<string, string>) => (key.startsWith('whatsapp-') ? translate(key, params) : own(key, params));
    return mod(RED);
  });
}

/** Loads `flow` with the gateway and the WhatsApp nodes; the account config node's id is 'wa'. */
export async function loadFlow(flow: FlowNode[], creds: Credentials, modules: ModuleName[] = MODULES): Promise<void> {
  await helper.load(translated(modules), flow as Parameters<typeof helper.load>[1], { wa: creds });
}

/** Fast timings: a 2 s call timeout, 50 ms after a pair-rate answer, rate waits up to 30 s. */
export function accountNode(wa: WhatsAppServer, over: Record<string, unknown> = {}): FlowNode {
  return { id: 'wa', type: 'chatgate-whatsapp-account', name: 'test number', phoneNumberId: wa.phoneNumberId, apiRoot: wa.baseUrl, path: PATH, callTimeout: 2, maxRateWait: 30, pairWait: 0.05, pace: 0, ...over };
}

export const gateway: FlowNode = { id: 'gw', type: 'chatgate-gateway', name: 'test gateway' };

/** An inbound envelope's chat for WhatsApp, for tests that start at the out node. */
export function whatsappChat(over: { userId: string; waId?: string; messageId?: string }) {
  const messageId = over.messageId ?? `wamid.HBgL${Math.random().toString(36).slice(2)}AA`;
  const replyTo = { platform: 'whatsapp', channelId: 'wa', chatId: over.userId, messageId, userId: over.userId, ...(over.waId ? { waId: over.waId } : {}) };
  return {
    platform: 'whatsapp',
    channelId: 'wa',
    chatId: over.userId,
    chatJid: `wa:${over.userId}`,
    chatType: 'direct',
    userId: over.userId,
    userJid: `wa:${over.userId}`,
    isBot: false,
    messageId,
    mentioned: true,
    attachments: [],
    receivedAt: new Date().toISOString(),
    replyTo,
  };
}

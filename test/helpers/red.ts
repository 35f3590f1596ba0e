/**
 * Loads chatgate nodes into the real Node-RED runtime through node-red-node-test-helper, and keeps
 * a handle on the RED API the nodes received (for httpNode routes and admin routes).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import helper from 'node-red-node-test-helper';

helper.init(require.resolve('node-red'));

export { helper };

const DIST = path.resolve(__dirname, '../../dist/nodes');

export type Translate = (key: string, params?: Record<string, string>) => string;

/**
 * The helper's RED._ returns bare keys; this reads the built en-US catalogs of one platform's
 * nodes (`dist/nodes/<folder>/locales/en-US/<prefix>*.json`, read once) and translates keys as an
 * operator sees them, `__param__` filled in. Unknown keys come back as they are.
 */
export function catalogTranslator(folder: string, prefix: string): Translate {
  let catalog: Record<string, unknown> | undefined;
  return (key, params = {}) => {
    const dir = path.join(DIST, folder, 'locales', 'en-US');
    catalog ??= Object.assign(
      {},
      ...fs
        .readdirSync(dir)
        .filter((f) => f.startsWith(prefix) && f.endsWith('.json'))
        .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'))),
    ) as Record<string, unknown>;
    const found = key.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), catalog);
    if (typeof found !== 'string') return key;
    return found.replace(/__(\w+)__/g, (_m, name: string) => String(params[name] ?? ''));
  };
}

/** Node module paths by short name, as package.json lists them. */
export const MODULES = {
  gateway: 'gateway/gateway.js',
  threadResolver: 'thread-resolver/thread-resolver.js',
  allowlistFilter: 'allowlist-filter/allowlist-filter.js',
  replyRouter: 'reply-router/reply-router.js',
  webhookIn: 'webhook/webhook-in.js',
  webhookOut: 'webhook/webhook-out.js',
  webchatIn: 'webchat/webchat-in.js',
  webchatOut: 'webchat/webchat-out.js',
  agentCall: 'agent-call/agent-call.js',
  telegramBot: 'telegram/telegram-bot.js',
  telegramIn: 'telegram/telegram-in.js',
  telegramOut: 'telegram/telegram-out.js',
  slackApp: 'slack/slack-app.js',
  slackIn: 'slack/slack-in.js',
  slackOut: 'slack/slack-out.js',
  discordBot: 'discord/discord-bot.js',
  discordIn: 'discord/discord-in.js',
  discordOut: 'discord/discord-out.js',
  whatsappAccount: 'whatsapp/whatsapp-account.js',
  whatsappIn: 'whatsapp/whatsapp-in.js',
  whatsappOut: 'whatsapp/whatsapp-out.js',
} as const;

export type ModuleName = keyof typeof MODULES;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyRED = any;

export const captured: { RED?: AnyRED } = {};

/** A hook that may adjust the RED API before the nodes see it (e.g. a real permission check). */
let patchRED: ((RED: AnyRED) => void) | undefined;
export function setRedPatch(fn: ((RED: AnyRED) => void) | undefined): void {
  patchRED = fn;
}

/**
 * Stands in for Node-RED's admin auth (the test helper stubs it to allow everything): a request
 * holds the permissions listed in its `x-test-permissions` header, as a token's scope would.
 */
export function enforcePermissionsByHeader(RED: AnyRED): void {
  RED.auth = {
    needsPermission: (permission: string) => (req: AnyRED, res: AnyRED, next: () => void) => {
      const held = String(req.headers['x-test-permissions'] ?? '').split(',');
      const [, level] = permission.split('.');
      if (held.includes(permission) || held.includes(level) || held.includes('*')) return next();
      res.status(req.headers['x-test-permissions'] === undefined ? 401 : 403).json({ error: 'unauthorized' });
    },
  };
}

export function nodeModules(names: ModuleName[]): Array<(RED: AnyRED) => void> {
  return names.map((n) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(path.join(DIST, MODULES[n]));
    return (RED: AnyRED) => {
      patchRED?.(RED);
      captured.RED = RED;
      return mod(RED);
    };
  });
}

export function tempDir(prefix = 'chatgate-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Every test file gets its own user directory, so gateway store files never leak between tests. */
export function useUserDir(dir = tempDir()): string {
  helper.settings({ userDir: dir });
  return dir;
}

export async function load(names: ModuleName[], flow: object[], credentials?: object): Promise<void> {
  await helper.load(nodeModules(names), flow as Parameters<typeof helper.load>[1], credentials ?? {});
}

export async function unload(): Promise<void> {
  await helper.unload();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function getNode(id: string): any {
  return helper.getNode(id);
}

/** Resolves with the next message a helper node receives (or rejects after `ms`). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function nextMessage(nodeId: string, ms = 3000): Promise<any> {
  const n = helper.getNode(nodeId);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no message at ${nodeId} within ${ms} ms`)), ms);
    n.once('input', (msg: unknown) => {
      clearTimeout(timer);
      resolve(msg);
    });
  });
}

/** Collects every message a helper node receives, for asserting that nothing (or exactly N) arrived. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function collect(nodeId: string): any[] {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const seen: any[] = [];
  helper.getNode(nodeId).on('input', (msg: unknown) => seen.push(msg));
  return seen;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A complete inbound envelope for tests that start after a channel node. */
export function inbound(over: Record<string, unknown> = {}, text = 'hi') {
  const userId = (over.userId as string) ?? 'u1';
  const chatId = (over.chatId as string) ?? userId;
  const platform = (over.platform as string) ?? 'webhook';
  const prefix = platform === 'telegram' ? 'tg' : platform === 'whatsapp' ? 'wa' : platform;
  const channelId = (over.channelId as string) ?? 'ch1';
  const messageId = (over.messageId as string) ?? `m-${Math.random().toString(36).slice(2)}`;
  const chat = {
    platform,
    channelId,
    chatId,
    chatJid: `${prefix}:${chatId}`,
    chatType: 'direct',
    userId,
    userJid: `${prefix}:${userId}`,
    isBot: false,
    messageId,
    mentioned: true,
    attachments: [],
    receivedAt: new Date().toISOString(),
    replyTo: { platform, channelId, chatId, userId, messageId },
    ...over,
  };
  return { payload: text, chat };
}

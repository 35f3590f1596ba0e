/**
 * The one flow the soak deploys: every channel's in node into ONE agent pipeline (allowlist filter
 * -> thread resolver -> agent call, streaming on, against the fake OpenAI-compatible server ->
 * reply router) and out to every channel's out node, on one gateway with the default store (the
 * embedded SQLite database in the user directory). A Catch node and the router's unroutable
 * output report to the soak over HTTP (a function node and an http request node), so a failure
 * the operator would see is counted too. Timings are the tests' fast ones; everything else is a
 * default.
 */
import { FALLBACK_TEXT } from './types';
import { WEBCHAT_PATH } from './channels/webchat';
import { WEBHOOK_ASYNC_PATH, WEBHOOK_SYNC_PATH } from './channels/webhook';
import { WHATSAPP_PATH, WHATSAPP_VERIFY_TOKEN } from './channels/whatsapp';
import { SLACK_CREDENTIALS } from './channels/slack';
import { TELEGRAM_TOKEN } from './channels/telegram';

export interface FlowTargets {
  telegramApiRoot: string;
  slackBaseUrl: string;
  discordBaseUrl: string;
  discordToken: string;
  whatsapp: { baseUrl: string; phoneNumberId: string; token: string; appSecret: string };
  agentUrl: string;
  callbackBase: string;
  reportUrl: string;
}

const TAB = 'c9a75e0000000000';
const id = (n: number) => `c9a75e${n.toString(16).padStart(10, '0')}`;
export const IDS = {
  gateway: id(1),
  telegramBot: id(2),
  slackApp: id(3),
  discordBot: id(4),
  whatsappAccount: id(5),
  filter: id(20),
  resolver: id(21),
  agent: id(22),
  router: id(23),
  catch: id(40),
  report: id(41),
  post: id(42),
} as const;

const IN = { telegram: id(10), slack: id(11), discord: id(12), whatsapp: id(13), webchat: id(14), hookSync: id(15), hookAsync: id(16) };
const OUT = { telegram: id(30), slack: id(31), discord: id(32), whatsapp: id(33), webhook: id(34), webchat: id(35) };

/** What the reporter sends: the error, the reply text (it names the token) and the message's ids. */
const REPORT_FUNC = `
const text = typeof msg.payload === 'string' ? msg.payload : JSON.stringify(msg.payload === undefined ? '' : msg.payload);
const chat = msg.chat && typeof msg.chat === 'object' ? msg.chat : undefined;
msg.payload = {
  kind: msg.unroutable ? 'unroutable' : 'error',
  source: msg.error && msg.error.source ? String(msg.error.source.type) : (msg.unroutable ? 'chatgate-reply-router' : ''),
  message: String((msg.error && msg.error.message) || (msg.unroutable && msg.unroutable.reason) || ''),
  text: text.slice(0, 400),
  messageId: chat && chat.messageId !== undefined ? String(chat.messageId) : undefined,
  chat: chat ? { platform: chat.platform, chatId: chat.chatId, threadId: chat.threadId } : null,
};
msg.headers = { 'content-type': 'application/json' };
delete msg.chat; delete msg.thread; delete msg.stream; delete msg.event; delete msg.error; delete msg.unroutable;
return msg;`;

export function soakFlow(t: FlowTargets): { flow: object[]; credentials: Record<string, Record<string, string>> } {
  let y = 40;
  const at = () => ({ x: 200, y: (y += 40) });
  const toFilter = [[IDS.filter]];
  const flow: object[] = [
    { id: TAB, type: 'tab', label: 'soak' },
    { id: IDS.gateway, type: 'chatgate-gateway', name: 'soak gateway', strategy: 'per-conversation', sessionMinutes: 1440, listenerTtlMinutes: 30, dedupeMinutes: 20, resetCommands: '/new, /reset', store: 'embedded' },
    { id: IDS.telegramBot, type: 'chatgate-telegram-bot', name: 'soak telegram', mode: 'polling', apiRoot: t.telegramApiRoot, pollTimeout: 1, throttle: false, callTimeout: 2, retryMin: 0.05, retryMax: 0.5, stallMargin: 0.3 },
    { id: IDS.slackApp, type: 'chatgate-slack-app', name: 'soak slack', mode: 'socket', apiRoot: t.slackBaseUrl, callTimeout: 2, retryMin: 0.05, retryMax: 0.5, pingTimeout: 1, maxRateWait: 30 },
    { id: IDS.discordBot, type: 'chatgate-discord-bot', name: 'soak discord', apiRoot: t.discordBaseUrl, receive: 'gateway', commands: [], registerOnDeploy: false, callTimeout: 2, retryMin: 0.05, retryMax: 0.5, maxRateWait: 30, loginTimeout: 10 },
    { id: IDS.whatsappAccount, type: 'chatgate-whatsapp-account', name: 'soak whatsapp', phoneNumberId: t.whatsapp.phoneNumberId, apiRoot: t.whatsapp.baseUrl, path: WHATSAPP_PATH, callTimeout: 2, maxRateWait: 30, pairWait: 0.05, pace: 0 },

    { id: IN.telegram, z: TAB, type: 'chatgate-telegram-in', bot: IDS.telegramBot, gateway: IDS.gateway, groups: 'mention', ...at(), wires: toFilter },
    { id: IN.slack, z: TAB, type: 'chatgate-slack-in', app: IDS.slackApp, gateway: IDS.gateway, channels: 'mention', threads: 'participating', ...at(), wires: toFilter },
    { id: IN.discord, z: TAB, type: 'chatgate-discord-in', bot: IDS.discordBot, gateway: IDS.gateway, guild: 'mention', ...at(), wires: toFilter },
    { id: IN.whatsapp, z: TAB, type: 'chatgate-whatsapp-in', account: IDS.whatsappAccount, gateway: IDS.gateway, ...at(), wires: toFilter },
    { id: IN.webchat, z: TAB, type: 'chatgate-webchat-in', gateway: IDS.gateway, path: WEBCHAT_PATH, title: 'soak', ...at(), wires: toFilter },
    { id: IN.hookSync, z: TAB, type: 'chatgate-webhook-in', gateway: IDS.gateway, path: WEBHOOK_SYNC_PATH, mode: 'sync', timeout: 20, callbackUrl: `${t.callbackBase}/sync`, auth: 'none', ...at(), wires: toFilter },
    { id: IN.hookAsync, z: TAB, type: 'chatgate-webhook-in', gateway: IDS.gateway, path: WEBHOOK_ASYNC_PATH, mode: 'async', timeout: 30, callbackUrl: `${t.callbackBase}/async`, auth: 'none', ...at(), wires: toFilter },

    { id: IDS.filter, z: TAB, type: 'chatgate-allowlist-filter', gateway: IDS.gateway, mode: 'open', matchOn: 'either', list: 'default', entries: [], refused: 'output', ...at(), wires: [[IDS.resolver], [IDS.report]] },
    { id: IDS.resolver, z: TAB, type: 'chatgate-thread-resolver', gateway: IDS.gateway, strategy: '', sessionMinutes: '', passReset: false, resetText: '', ...at(), wires: [[IDS.agent], [IDS.router]] },
    {
      id: IDS.agent,
      z: TAB,
      type: 'chatgate-agent-call',
      gateway: IDS.gateway,
      provider: 'openai',
      baseUrl: t.agentUrl,
      model: 'soak-model',
      apiKeyEnv: 'CHATGATE_SOAK_NO_KEY',
      systemPrompt: 'You are the soak agent for {{chat.platform}}.',
      stream: true,
      streamInterval: 100,
      typing: true,
      memoryTurns: 20,
      memoryChars: 24000,
      concurrency: 32,
      queueMode: 'followup',
      maxQueue: 10,
      timeout: 4,
      retries: 2,
      fallback: FALLBACK_TEXT,
      ...at(),
      wires: [[IDS.router], []],
    },
    { id: IDS.router, z: TAB, type: 'chatgate-reply-router', gateway: IDS.gateway, ...at(), wires: [[OUT.telegram], [OUT.slack], [OUT.discord], [OUT.whatsapp], [OUT.webhook], [OUT.webchat], [IDS.report]] },

    { id: OUT.telegram, z: TAB, type: 'chatgate-telegram-out', bot: IDS.telegramBot, gateway: IDS.gateway, replyToMessage: false, typing: true, ...at(), wires: [] },
    { id: OUT.slack, z: TAB, type: 'chatgate-slack-out', app: IDS.slackApp, gateway: IDS.gateway, dmThreads: false, typing: true, status: '', streaming: 'native', ...at(), wires: [] },
    { id: OUT.discord, z: TAB, type: 'chatgate-discord-out', bot: IDS.discordBot, gateway: IDS.gateway, replyToMessage: false, typing: true, mentions: 'none', ...at(), wires: [] },
    { id: OUT.whatsapp, z: TAB, type: 'chatgate-whatsapp-out', account: IDS.whatsappAccount, gateway: IDS.gateway, quote: false, typing: 'typing', ...at(), wires: [] },
    { id: OUT.webhook, z: TAB, type: 'chatgate-webhook-out', gateway: IDS.gateway, ...at(), wires: [] },
    { id: OUT.webchat, z: TAB, type: 'chatgate-webchat-out', gateway: IDS.gateway, ...at(), wires: [] },

    // Every chatgate node's errors (not the reporter's own, which would loop).
    { id: IDS.catch, z: TAB, type: 'catch', name: 'every chatgate error', scope: [...Object.values(IN), IDS.filter, IDS.resolver, IDS.agent, IDS.router, ...Object.values(OUT)], uncaught: false, ...at(), wires: [[IDS.report]] },
    { id: IDS.report, z: TAB, type: 'function', name: 'report to the soak', func: REPORT_FUNC, outputs: 1, timeout: 0, noerr: 0, initialize: '', finalize: '', libs: [], ...at(), wires: [[IDS.post]] },
    { id: IDS.post, z: TAB, type: 'http request', name: 'POST the report', method: 'POST', ret: 'txt', paytoqs: 'ignore', url: t.reportUrl, tls: '', persist: false, proxy: '', insecureHTTPParser: false, authType: '', senderr: false, headers: [], ...at(), wires: [[]] },
  ];
  const credentials: Record<string, Record<string, string>> = {
    [IDS.telegramBot]: { token: TELEGRAM_TOKEN },
    [IDS.slackApp]: { ...SLACK_CREDENTIALS },
    [IDS.discordBot]: { token: t.discordToken },
    [IDS.whatsappAccount]: { token: t.whatsapp.token, appSecret: t.whatsapp.appSecret, verifyToken: WHATSAPP_VERIFY_TOKEN },
  };
  return { flow, credentials };
}

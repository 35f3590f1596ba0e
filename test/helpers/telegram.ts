/**
 * Shared by the Telegram node tests: loading a flow with the Telegram nodes (catalogs translated to
 * the English an operator sees), a bot config node with fast timings, and waiting on statuses.
 */
import { catalogTranslator, getNode, helper, nodeModules, sleep, type AnyRED, type ModuleName } from './red';

export const TOKEN = '123456789:AAtest-SECRET-token_value';
export const BOT = 'chatgate_test_bot';

export type FlowNode = { id: string; type: string; [key: string]: unknown };

/** The helper's RED._ returns bare keys; this reads the built catalogs of every Telegram node. */
export const translate = catalogTranslator('telegram', 'telegram-');

/** Loads `flow` with the gateway and the given Telegram nodes; the bot config node's id is 'bot'. */
export async function loadFlow(flow: FlowNode[], token = TOKEN, modules: ModuleName[] = ['gateway', 'telegramBot', 'telegramIn']): Promise<void> {
  const mods = nodeModules(modules).map((mod) => (RED: AnyRED) => {
    RED._ = translate;
    return mod(RED);
  });
  await helper.load(mods, flow, { bot: { token } });
}

/** Fast timings: a 1 s long poll, retries after 50 ms, a stall noticed 0.3 s after 2 x the poll. */
export function botNode(apiRoot: string, over: Record<string, unknown> = {}): FlowNode {
  return { id: 'bot', type: 'chatgate-telegram-bot', apiRoot, pollTimeout: 1, callTimeout: 1, retryMin: 0.05, retryMax: 0.2, stallMargin: 0.3, throttle: false, ...over };
}

export async function until(check: () => boolean, ms = 3000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export function statusTexts(nodeId: string): string[] {
  const spy = getNode(nodeId).status as { getCalls(): Array<{ thisValue: { id: string }; args: Array<{ text?: string }> }> };
  return spy
    .getCalls()
    .filter((c) => c.thisValue?.id === nodeId)
    .map((c) => c.args[0]?.text ?? '');
}


/**
 * chatgate-telegram-bot: the config node holding a bot token and the ONE live connection of that
 * bot, shared by its in and out nodes (the mqtt-broker pattern of Node-RED's 10-mqtt.js). The API
 * in and out nodes use is documented in bot-api.ts (this module can only export the node itself).
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { captureRawBodies } from '../common/raw-capture';
import { hasPostRoute, mountPost, type HttpApp } from '../common/http-routes';
import { readBotSettings, type BotProblem, type TelegramBotDef } from './bot-settings';
import { errorText } from '../core/error-text';
import { registerSecrets } from '../common/node-secrets';
import { redact, TelegramConnection, type ConnectionStatus } from './connection';
import { MAX_UPDATE_BYTES, type WebhookHandler } from './webhook-adapter';
import type { TelegramBotNode } from './bot-api';
import { shareConnection } from '../common/kit/connection-users';

export = function (RED: NodeAPI): void {
  function ChatgateTelegramBotNode(this: TelegramBotNode & { connection: TelegramConnection | undefined }, def: TelegramBotDef & NodeDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const token = (node.credentials?.token ?? '').trim();
    registerSecrets(node, [token]);
    const { settings, problems } = readBotSettings(def, node.credentials ?? {});
    const t = (key: string, params: Record<string, string> = {}) => redact(RED._(key, params), token);
    const statusText = (s: ConnectionStatus) => t(`telegram-bot.status.${s.key}`, s.params);
    const problemText = (p: BotProblem) => t(`telegram-bot.errors.${p}`, { path: settings.webhookPath });

    let problem: string | undefined = problems.length ? problems.map(problemText).join('; ') : undefined;
    let connection: TelegramConnection | undefined;
    let lastLogged = '';

    if (!problem && settings.mode === 'webhook') {
      const app = RED.httpNode as unknown as HttpApp | undefined;
      if (!app) problem = problemText('noHttp');
      else if (hasPostRoute(app, settings.webhookPath)) problem = problemText('pathInUse');
    }

    if (!problem) {
      connection = new TelegramConnection({
        token,
        ...(settings.apiRoot ? { apiRoot: settings.apiRoot } : {}),
        mode: settings.mode,
        pollTimeoutSec: settings.pollTimeoutSec,
        callTimeoutMs: settings.callTimeoutMs,
        backoffMinMs: settings.backoffMinMs,
        backoffMaxMs: settings.backoffMaxMs,
        stallMarginMs: settings.stallMarginMs,
        throttle: settings.throttle,
        ...(settings.mode === 'webhook'
          ? {
              webhook: {
                url: `${settings.webhookUrl}${settings.webhookPath}`,
                mount: (handler: WebhookHandler) => {
                  const app = RED.httpNode as unknown as HttpApp;
                  const stopCapture = captureRawBodies(app, settings.webhookPath, MAX_UPDATE_BYTES, node.id);
                  const route = (req: never, res: never) => {
                    handler(req, res).catch((err: unknown) => {
                      const r = res as unknown as import('node:http').ServerResponse;
                      if (!r.headersSent) {
                        r.writeHead(400);
                        r.end();
                      }
                      node.warn(t('telegram-bot.errors.badUpdate', { message: errorText(err) }));
                    });
                  };
                  const unroute = mountPost(app, settings.webhookPath, route);
                  return () => {
                    unroute();
                    stopCapture();
                  };
                },
              },
            }
          : {}),
      });
      connection.on('status', (s: ConnectionStatus) => users.push(s, s.message === undefined ? undefined : redact(s.message, token)));
      connection.on('log', (level: 'warn' | 'error', key: string, params: Record<string, string>) => {
        // Retries repeat the same failure; one log line per change is enough.
        const line = t(key, params);
        if (line === lastLogged) return;
        lastLogged = line;
        node[level](line);
      });
      connection.on('ready', () => (lastLogged = ''));
    }
    node.connection = connection;

    const users = shareConnection<ConnectionStatus>(node, connection, problem, {
      text: statusText,
      failed: (message) => t('telegram-bot.errors.failed', { message }),
    });

    node.fileUrl = (filePath) => `${settings.apiRoot ?? 'https://api.telegram.org'}/file/bot${token}/${filePath}`;

    node.on('close', (_removed: boolean, done: () => void) => users.close(done));
  }

  RED.nodes.registerType('chatgate-telegram-bot', ChatgateTelegramBotNode as unknown as (this: Node, def: NodeDef) => void, {
    credentials: { token: { type: 'password' } },
  });
};

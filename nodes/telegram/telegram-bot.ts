/**
 * chatgate-telegram-bot: the config node holding a bot token and the ONE live connection of that
 * bot, shared by its in and out nodes (the mqtt-broker pattern of Node-RED's 10-mqtt.js). The API
 * in and out nodes use is documented in bot-api.ts (this module can only export the node itself).
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import type { ChannelState } from '../core/channels';
import { captureRawBodies } from '../common/raw-capture';
import { hasPostRoute, mountPost, type HttpApp } from '../common/http-routes';
import { readBotSettings, type BotProblem, type TelegramBotCredentials, type TelegramBotDef } from './bot-settings';
import { errorText } from '../core/error-text';
import { settle } from '../core/guard';
import { registerSecrets } from '../common/node-secrets';
import { redact, TelegramConnection, type ConnectionStatus } from './connection';
import { MAX_UPDATE_BYTES, type WebhookHandler } from './webhook-adapter';
import type { StatusSink, TelegramBotNode } from './bot-api';

interface User {
  node: Node;
  sink?: StatusSink;
  receive: boolean;
}

const FILL: Record<ChannelState, 'green' | 'yellow' | 'red' | 'grey'> = { connected: 'green', connecting: 'yellow', error: 'red', stopped: 'grey' };

export = function (RED: NodeAPI): void {
  function ChatgateTelegramBotNode(this: TelegramBotNode & { connection: TelegramConnection | undefined }, def: TelegramBotDef & NodeDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const token = (node.credentials?.token ?? '').trim();
    registerSecrets(node, [token]);
    const { settings, problems } = readBotSettings(def, node.credentials ?? {});
    const users = new Map<string, User>();
    const t = (key: string, params: Record<string, string> = {}) => redact(RED._(key, params), token);

    const show = (u: User, state: ChannelState, text: string, message?: string) => {
      if (u.sink) u.sink.status(state, text, message);
      else u.node.status({ fill: FILL[state], shape: state === 'connected' ? 'dot' : 'ring', text });
    };
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
      connection.on('status', (s: ConnectionStatus) => {
        const text = statusText(s);
        const message = s.message === undefined ? undefined : redact(s.message, token);
        for (const u of users.values()) show(u, s.state, text, message);
      });
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

    const receiving = () => [...users.values()].some((u) => u.receive);

    node.register = (user, options = {}) => {
      const u: User = { node: user, receive: options.receive === true, ...(options.sink ? { sink: options.sink } : {}) };
      users.set(user.id, u);
      if (!connection) return show(u, 'error', problem ?? '', problem);
      const s = connection.status;
      show(u, s.state === 'stopped' ? 'connecting' : s.state, statusText(s.state === 'stopped' ? { ...s, key: 'connecting' } : s), s.message);
      settle(connection.start(receiving()), (err) => node.error(t('telegram-bot.errors.failed', { message: errorText(err) })));
    };

    node.deregister = (user, done) => {
      users.delete(user.id);
      const finish = () => done?.();
      if (!connection) return finish();
      if (users.size === 0) connection.stop().then(finish, finish);
      else connection.start(receiving()).then(finish, finish);
    };

    node.fileUrl = (filePath) => `${settings.apiRoot ?? 'https://api.telegram.org'}/file/bot${token}/${filePath}`;

    node.on('close', (_removed: boolean, done: () => void) => {
      users.clear();
      if (!connection) return done();
      // Awaited: Node-RED starts the next deploy's nodes only after this, so no second poller.
      connection.stop().then(
        () => done(),
        () => done(),
      );
    });
  }

  RED.nodes.registerType('chatgate-telegram-bot', ChatgateTelegramBotNode as unknown as (this: Node, def: NodeDef) => void, {
    credentials: { token: { type: 'password' } },
  });
};

/**
 * chatgate-discord-bot: the config node holding a Discord bot's token (and its application's
 * public key, for the interactions endpoint) and the ONE live connection of that bot, shared by its
 * in and out nodes (the mqtt-broker pattern of Node-RED's 10-mqtt.js). The API in and out nodes
 * use is documented in bot-api.ts; the editor's "register commands" button calls the admin route
 * here.
 */
import type { KeyObject } from 'node:crypto';
import type { Request, Response, RequestHandler } from 'express';
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { registerSecrets } from '../common/node-secrets';
import { shareConnection } from '../common/kit/connection-users';
import { relayConnection } from '../common/kit/connection-relay';
import { mountRawPost, routeProblem } from '../common/kit/raw-route';
import { errorText } from '../core/error-text';
import { redact } from '../core/redact';
import { BOT_TYPE, type DiscordBotNode } from './bot-api';
import { DiscordConnection, type ConnectionStatus } from './connection';
import { importPublicKey, MAX_INTERACTION_BYTES } from './interactions';
import { cleanToken, readBotSettings, type BotProblem, type BotSettings, type DiscordBotDef } from './settings';

/** Discord's CDN and media proxy: where attachments live. */
const DISCORD_FILE_ORIGINS = ['https://cdn.discordapp.com', 'https://media.discordapp.net'];

const ADMIN_PATH = '/chatgate/discord/:id/commands';
const WRITE = `${BOT_TYPE}.write`;

let adminOn: unknown;

/** POST /chatgate/discord/<bot id>/commands: registers the deployed bot's commands now (the editor's button). */
function registerAdminRoute(RED: NodeAPI): void {
  if (adminOn === RED.httpAdmin) return;
  adminOn = RED.httpAdmin;
  const write = RED.auth.needsPermission(WRITE) as RequestHandler;
  RED.httpAdmin.post(ADMIN_PATH, write, (req: Request, res: Response) => {
    const node = RED.nodes.getNode(String(req.params.id)) as (DiscordBotNode & { problem?: string }) | null;
    if (!node || node.type !== BOT_TYPE) {
      res.status(404).json({ error: RED._('discord-bot.errors.notDeployed') });
      return;
    }
    if (!node.connection) {
      res.status(409).json({ error: node.problem ?? RED._('discord-bot.errors.notDeployed') });
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_r, reject) => (timer = setTimeout(() => reject(new Error(RED._('discord-bot.errors.registerTimeout'))), 20000)));
    Promise.race([node.connection.registerCommands(), late]).then(
      (results) => {
        clearTimeout(timer);
        res.json({ results });
      },
      (err: unknown) => {
        clearTimeout(timer);
        res.status(502).json({ error: redact(errorText(err)) });
      },
    );
  });
}

export = function (RED: NodeAPI): void {
  registerAdminRoute(RED);

  function ChatgateDiscordBotNode(this: DiscordBotNode & { connection: DiscordConnection | undefined; fileOrigins: string[]; problem?: string }, def: DiscordBotDef & NodeDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const creds = node.credentials ?? {};
    const token = cleanToken(creds.token);
    const publicKey = (creds.publicKey ?? '').trim();
    const secrets = [token, publicKey];
    registerSecrets(node, secrets);
    const { settings, problems } = readBotSettings(def, creds);
    const t = (key: string, params: Record<string, string> = {}) => redact(RED._(key, params), secrets);
    const problemText = (p: BotProblem) => t(`discord-bot.errors.${p}`, { path: settings.path });

    let key: KeyObject | undefined;
    if (!problems.length && settings.receive !== 'gateway') {
      const route = routeProblem(RED.httpNode, settings.path);
      if (route) problems.push(route);
      try {
        key = importPublicKey(publicKey);
      } catch {
        problems.push('badPublicKey');
      }
    }
    const problem = problems.length ? problems.map(problemText).join('; ') : undefined;
    node.problem = problem;
    node.connection = problem ? undefined : connect(node, settings, token, key);
    if (node.connection) relayConnection(node, node.connection, (s, message) => users.push(s, message), t, secrets);

    const users = shareConnection<ConnectionStatus>(node, node.connection, problem, {
      text: (s) => t(`discord-bot.status.${s.key}`, s.params),
      failed: (message) => t('discord-bot.errors.failed', { message }),
    });

    node.fileOrigins = settings.fileOrigin ? [...DISCORD_FILE_ORIGINS, settings.fileOrigin] : DISCORD_FILE_ORIGINS;
    node.on('close', (_removed: boolean, done: () => void) => users.close(done));
  }

  function connect(node: Node, settings: BotSettings, token: string, key: KeyObject | undefined): DiscordConnection {
    return new DiscordConnection({
      id: node.id,
      token,
      api: settings.api,
      ...(settings.applicationId ? { applicationId: settings.applicationId } : {}),
      receive: settings.receive,
      intents: settings.intents,
      callTimeoutMs: settings.callTimeoutMs,
      backoffMinMs: settings.backoffMinMs,
      backoffMaxMs: settings.backoffMaxMs,
      maxRateWaitMs: settings.maxRateWaitMs,
      loginTimeoutMs: settings.loginTimeoutMs,
      ...(key ? { http: { path: settings.path, key, mount: (handler) => mountRawPost(RED.httpNode, settings.path, MAX_INTERACTION_BYTES, node.id, handler) } } : {}),
      commands: { list: settings.commands, ...(settings.commandScope === 'guilds' ? { guildIds: settings.guildIds } : {}), onDeploy: settings.registerOnDeploy },
    });
  }

  RED.nodes.registerType(BOT_TYPE, ChatgateDiscordBotNode as unknown as (this: Node, def: NodeDef) => void, {
    credentials: { token: { type: 'password' }, publicKey: { type: 'password' } },
  });
};

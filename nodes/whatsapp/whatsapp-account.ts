/**
 * chatgate-whatsapp-account: the config node holding one WhatsApp Business phone number's
 * credentials (the system user's access token, the Meta app's secret that signs webhooks, the
 * verify token of the webhook handshake) and the ONE live connection of it, shared by its in and
 * out nodes (the mqtt-broker pattern of Node-RED's 10-mqtt.js). The API in and out nodes use is
 * documented in account-api.ts.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { registerSecrets } from '../common/node-secrets';
import { removeRoutes } from '../common/http-routes';
import { shareConnection } from '../common/kit/connection-users';
import { relayConnection } from '../common/kit/connection-relay';
import { mountRawPost, routeProblem } from '../common/kit/raw-route';
import { field, numberField, textField } from '../core/error-text';
import { redact } from '../core/redact';
import { ACCOUNT_TYPE, type WhatsAppAccountNode } from './account-api';
import { WhatsAppConnection, type ConnectionStatus, type MountWebhook } from './connection';
import { readAccountSettings, type AccountProblem, type WhatsAppAccountDef, type WhatsAppCredentials } from './settings';
import { MAX_NOTIFICATION_BYTES, notificationRoute, verificationRoute } from './webhook-route';

interface GetApp {
  get(path: string, handler: (req: never, res: never) => void): unknown;
}

export = function (RED: NodeAPI): void {
  function ChatgateWhatsAppAccountNode(this: WhatsAppAccountNode & { connection: WhatsAppConnection | undefined; settings: unknown }, def: WhatsAppAccountDef & NodeDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const creds: WhatsAppCredentials = node.credentials ?? {};
    const token = (creds.token ?? '').trim();
    const appSecret = (creds.appSecret ?? '').trim();
    const verifyToken = (creds.verifyToken ?? '').trim();
    const secrets = [token, appSecret, verifyToken];
    registerSecrets(node, secrets);
    const { settings, problems } = readAccountSettings(def, creds);
    const t = (key: string, params: Record<string, string> = {}) => redact(RED._(key, params), secrets);
    const problemText = (p: AccountProblem) => t(`whatsapp-account.errors.${p}`, { path: settings.path });

    if (!problems.length) {
      const route = routeProblem(RED.httpNode, settings.path);
      if (route) problems.push(route);
    }
    const problem = problems.length ? problems.map(problemText).join('; ') : undefined;
    node.settings = settings;

    /** GET (verification) and POST (notifications) on the path, both taken off by the returned function. */
    const mount: MountWebhook = (handlers) => {
      const get = verificationRoute(verifyToken);
      (RED.httpNode as unknown as GetApp).get(settings.path, get as never);
      const unpost = mountRawPost(RED.httpNode, settings.path, MAX_NOTIFICATION_BYTES, node.id, notificationRoute({ appSecret, ...handlers }) as never);
      return () => {
        unpost();
        removeRoutes(RED.httpNode, new Set([get]));
      };
    };

    node.connection = problem
      ? undefined
      : new WhatsAppConnection({
          id: node.id,
          phoneNumberId: settings.phoneNumberId,
          graphBase: settings.graphBase,
          apiOrigin: settings.apiOrigin,
          token,
          secrets,
          path: settings.path,
          callTimeoutMs: settings.callTimeoutMs,
          maxRateWaitMs: settings.maxRateWaitMs,
          pairWaitMs: settings.pairWaitMs,
          mount,
        });
    if (node.connection) relayConnection<ConnectionStatus>(node, node.connection, (s, message) => users.push(s, message), t, secrets);

    const users = shareConnection<ConnectionStatus>(node, node.connection, problem, {
      text: (s) => t(`whatsapp-account.status.${s.key}`, s.params),
      failed: (message) => t('whatsapp-account.errors.failed', { message }),
    });

    node.media = async (mediaId, maxBytes) => {
      const c = node.connection;
      if (!c) return { ok: false, reason: 'failed', message: 'no connection' };
      let meta: unknown;
      try {
        meta = await c.calls.get(encodeURIComponent(mediaId), 'the media lookup');
      } catch (err) {
        return { ok: false, reason: 'failed', message: redact(err instanceof Error ? err.message : 'media lookup failed', secrets) };
      }
      const url = textField(meta, 'url');
      const size = numberField(meta, 'file_size');
      const mimeType = textField(meta, 'mime_type');
      const info = { ...(mimeType ? { mimeType } : {}), ...(size !== undefined ? { size } : {}) };
      if (size !== undefined && size > maxBytes) return { ok: false, reason: 'tooLarge', info };
      if (!url || field(meta, 'id') === undefined) return { ok: false, reason: 'failed', message: 'the media lookup answered no URL', info };
      return { ...(await c.calls.download(url, maxBytes)), info };
    };

    node.on('close', (_removed: boolean, done: () => void) => users.close(done));
  }

  RED.nodes.registerType(ACCOUNT_TYPE, ChatgateWhatsAppAccountNode as unknown as (this: Node, def: NodeDef) => void, {
    credentials: { token: { type: 'password' }, appSecret: { type: 'password' }, verifyToken: { type: 'password' } },
  });
};

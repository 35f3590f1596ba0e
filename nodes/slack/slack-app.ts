/**
 * chatgate-slack-app: the config node holding a Slack app's tokens and the ONE live Bolt app of
 * it, shared by its in and out nodes (the mqtt-broker pattern of Node-RED's 10-mqtt.js). The API
 * in and out nodes use is documented in app-api.ts (this module can only export the node itself).
 */
import type { ServerResponse } from 'node:http';
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { captureRawBodies, RAW_BODY, type CapturedRequest } from '../common/raw-capture';
import { hasPostRoute, mountPost, type HttpApp } from '../common/http-routes';
import { registerSecrets } from '../common/node-secrets';
import { shareConnection } from '../common/kit/connection-users';
import { redact } from '../core/redact';
import type { SlackAppNode } from './app-api';
import { SlackConnection, type ConnectionStatus, type RouteHandler } from './connection';
import { downloadFile, fileOrigins } from './files';
import { readAppSettings, type AppProblem, type SlackAppCredentials, type SlackAppDef } from './settings';

/** Slack's event, command and action bodies are small; a file_share event with many files is the largest. */
const MAX_BODY_BYTES = 1024 * 1024;

export = function (RED: NodeAPI): void {
  function ChatgateSlackAppNode(this: SlackAppNode & { connection: SlackConnection | undefined }, def: SlackAppDef & NodeDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const creds: SlackAppCredentials = node.credentials ?? {};
    const token = (creds.token ?? '').trim();
    const secrets = [token, (creds.appToken ?? '').trim(), (creds.signingSecret ?? '').trim()];
    registerSecrets(node, secrets);
    const { settings, problems } = readAppSettings(def, creds);
    const t = (key: string, params: Record<string, string> = {}) => redact(RED._(key, params), secrets);
    const statusText = (s: ConnectionStatus) => t(`slack-app.status.${s.key}`, s.params);
    const problemText = (p: AppProblem) => t(`slack-app.errors.${p}`, { path: settings.path });

    let problem: string | undefined = problems.length ? problems.map(problemText).join('; ') : undefined;
    let connection: SlackConnection | undefined;
    const logged = new Map<string, string>();

    if (!problem && settings.mode === 'http') {
      const app = RED.httpNode as unknown as HttpApp | undefined;
      if (!app) problem = problemText('noHttp');
      else if (hasPostRoute(app, settings.path)) problem = problemText('pathInUse');
    }

    /** Bolt's router on POST path, fed the raw bytes the signature covers. */
    function mount(handler: RouteHandler): () => void {
      const app = RED.httpNode as unknown as HttpApp;
      const stopCapture = captureRawBodies(app, settings.path, MAX_BODY_BYTES, node.id);
      const route = (req: CapturedRequest & { rawBody?: Buffer }, res: ServerResponse) => {
        const body = req[RAW_BODY];
        if (!body) return handler(req as never, res as never);
        body.then(
          (b) => {
            if (!b.ok) {
              res.statusCode = b.reason === 'too-large' ? 413 : 400;
              return res.end();
            }
            // ExpressReceiver checks the signature on req.rawBody when it is there (its GCP path).
            req.rawBody = b.body;
            // Bolt reads a form only when the content type is exactly this; a proxy may add a charset.
            if (/^application\/x-www-form-urlencoded\s*;/i.test(String(req.headers['content-type'] ?? ''))) req.headers['content-type'] = 'application/x-www-form-urlencoded';
            handler(req as never, res as never);
          },
          () => {
            res.statusCode = 400;
            res.end();
          },
        );
      };
      const unroute = mountPost(app, settings.path, route as never);
      return () => {
        unroute();
        stopCapture();
      };
    }

    if (!problem) {
      connection = new SlackConnection({
        id: node.id,
        token,
        ...(creds.appToken ? { appToken: creds.appToken.trim() } : {}),
        ...(creds.signingSecret ? { signingSecret: creds.signingSecret.trim() } : {}),
        mode: settings.mode,
        slackApiUrl: settings.slackApiUrl,
        callTimeoutMs: settings.callTimeoutMs,
        backoffMinMs: settings.backoffMinMs,
        backoffMaxMs: settings.backoffMaxMs,
        pingTimeoutMs: settings.pingTimeoutMs,
        maxRateWaitMs: settings.maxRateWaitMs,
        ...(settings.mode === 'http' ? { http: { path: settings.path, mount } } : {}),
      });
      connection.on('status', (s: ConnectionStatus) => users.push(s, s.message === undefined ? undefined : redact(s.message, secrets)));
      connection.on('log', (level: 'warn' | 'error' | 'debug', key: string, params: Record<string, string>) => {
        // Retries repeat the same failure; one log line per change is enough.
        const line = t(key, params);
        if (logged.get(level) === line) return;
        logged.set(level, line);
        if (level === 'debug') node.debug(line);
        else node[level](line);
      });
      connection.on('ready', () => logged.clear());
    }
    node.connection = connection;

    const users = shareConnection<ConnectionStatus>(node, connection, problem, {
      text: statusText,
      failed: (message) => t('slack-app.errors.failed', { message }),
    });

    const origins = fileOrigins(settings.apiRoot);
    node.download = (url, maxBytes) => downloadFile(url, token, origins, maxBytes);

    node.on('close', (_removed: boolean, done: () => void) => users.close(done));
  }

  RED.nodes.registerType('chatgate-slack-app', ChatgateSlackAppNode as unknown as (this: Node, def: NodeDef) => void, {
    credentials: { token: { type: 'password' }, appToken: { type: 'password' }, signingSecret: { type: 'password' } },
  });
};


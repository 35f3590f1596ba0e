/**
 * chatgate-webhook-in: the custom channel's inbound side. Any platform or script POSTs
 * `{userId, text, ...}` to a path on Node-RED's HTTP server; the message enters the flow as an
 * envelope, and the reply goes back on the same HTTP response (sync) or to a callback URL (async).
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { linkChannel } from '../gateway/channel-link';
import { WebhookEndpoint } from './endpoint';
import { addEndpoint, claimPath, pathHolder, releasePath, removeEndpoint } from './registry';
import { captureRawBodies } from '../common/raw-capture';
import { hasPostRoute, mountPost, type HttpApp } from '../common/http-routes';
import { readSettings, type WebhookInCredentials, type WebhookInDef } from './settings';
import { safeError } from '../core/redact';
import { credentialValues, registerSecrets } from '../common/node-secrets';
import { handOverLateSends } from '../common/late-sends';

type WebhookInNode = Node<WebhookInCredentials>;

export = function (RED: NodeAPI): void {
  function ChatgateWebhookInNode(this: WebhookInNode, def: WebhookInDef & NodeDef) {
    RED.nodes.createNode(this, def);
    // A message taken just before a redeploy closes the node leaves from the next deploy's node.
    handOverLateSends(RED, this);
    const node = this;
    const { settings, problems } = readSettings(def, node.credentials ?? {});
    registerSecrets(node, credentialValues(node.credentials));
    const link = linkChannel(RED, node, def.gateway, { platform: 'webhook', direction: 'in', name: def.name || settings.path });
    const errorStatus = (message: string) => link.status('error', RED._('chatgate.status.error', { message }), message);

    const endpoint = new WebhookEndpoint(node.id, settings, link.gateway, {
      emit: (msg) => node.send(msg),
      timedOut: (msg, seconds) => node.error(RED._('webhook-in.errors.timeout', { seconds: String(seconds) }), msg),
      failed: (err) => node.error(RED._('webhook-in.errors.failed', { message: safeError(err).message })),
    });

    let unmount: (() => void) | undefined;
    const app = RED.httpNode as unknown as HttpApp | undefined;
    if (!app) {
      errorStatus(RED._('webhook-in.errors.noHttp'));
    } else if (!claimPath(settings.path, node.id)) {
      errorStatus(RED._('webhook-in.errors.pathInUse', { path: settings.path, id: pathHolder(settings.path) ?? '' }));
    } else if (hasPostRoute(app, settings.path)) {
      releasePath(settings.path, node.id);
      errorStatus(RED._('webhook-in.errors.pathInUse', { path: settings.path, id: 'http in' }));
    } else {
      const stopCapture = captureRawBodies(app, settings.path, settings.maxBytes, node.id);
      const unroute = mountPost(app, settings.path, endpoint.handle);
      unmount = () => {
        unroute();
        stopCapture();
      };
      addEndpoint(endpoint);
      if (!link.gateway) errorStatus(RED._('chatgate.errors.noGateway'));
      else if (problems.length) errorStatus(problems.map((p) => RED._(`webhook-in.errors.${p}`)).join('; '));
      else link.status('connected', RED._('chatgate.status.listening', { path: settings.path }));
    }

    node.on('close', (_removed: boolean, done: () => void) => {
      endpoint.close();
      unmount?.();
      if (unmount) releasePath(settings.path, node.id);
      removeEndpoint(endpoint);
      link.close();
      node.status({});
      done();
    });
  }

  RED.nodes.registerType('chatgate-webhook-in', ChatgateWebhookInNode as unknown as (this: Node, def: NodeDef) => void, {
    credentials: {
      token: { type: 'password' },
      secret: { type: 'password' },
      callbackSecret: { type: 'password' },
    },
  });
};

/**
 * chatgate-agent-call: sends each thread's new message to an agent (any OpenAI-compatible server,
 * or an HTTP agent process) and emits its reply, streamed or whole, with per-thread memory kept in
 * the gateway. Turns of one thread run in order; threads run in parallel up to a limit.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { z } from 'zod';
import { ChatSchema, ThreadSchema, validate, validateChat, type Chat, type Result, type ThreadInfo } from '../core/envelope';
import { QUOTE_CHARS } from '../core/turns-in-flight';
import { AgentError, type AgentProvider } from '../core/agent/types';
import { TurnScheduler, type SchedulerStats } from '../core/agent/turn-scheduler';
import { getGateway } from '../gateway/gateway-runtime';
import { andThen } from '../core/store/state-ops';
import { composeKey } from '../core/keys';
import { captureRawBodies } from '../common/raw-capture';
import { hasPostRoute, mountPost, type HttpApp } from '../common/http-routes';
import { AgentCallback, callbackPath, callbackUrl } from './callback-route';
import { createProvider, type ProviderConfig } from './providers';
import { DEFAULT_API_KEY_ENV } from './providers/openai-provider';
import {
  CALLBACK_MAX_BYTES,
  DEFAULT_CALLBACK_BASE,
  MAX_TOTAL_QUEUE,
  readSettings,
  scrub,
  secretsOf,
  type AgentCallCredentials,
  type AgentCallDef,
  type AgentCallSettings,
} from './settings';
import { derived, TurnRunner, type AgentMessage, type Done, type ResumedStream, type Send, type TurnItem } from './turn-runner';
import { claim, forgetUnlessRedeploy, park } from '../core/handover';
import { handOverLateSends } from '../common/late-sends';
import { throttleStatus } from '../common/status-throttle';
import { PendingAsks } from './pending-asks';
import { instanceId, TurnsGuard, type Stranded } from './turns-guard';
import { HandoffMarker } from '../core/operator/handoff-marker';
import type { HandoffSource } from '../core/operator/handoff-book';

type AgentCallNode = Node<AgentCallCredentials>;

const InputSchema = z.object({ payload: z.string(), chat: ChatSchema, thread: ThreadSchema });

/** The turn's text, chat and thread; the chat is checked once per object (see validateChat). */
function readInput(m: AgentMessage): Result<{ payload: string; chat: Chat; thread: ThreadInfo }> {
  if (typeof m.payload === 'string' && validateChat(m.chat).ok) {
    const thread = ThreadSchema.safeParse(m.thread);
    if (thread.success) return { ok: true, value: { payload: m.payload, chat: m.chat as Chat, thread: thread.data } };
  }
  // The whole schema once more, for the same error text whichever part is wrong.
  return validate(InputSchema, { payload: m.payload, chat: m.chat, thread: m.thread });
}

/** How long close waits for aborted turns to return before giving up on them. */
const CLOSE_GRACE_MS = 2000;
/** How long after its start a node reports the turns a crash cut, should `flows:started` not come. */
const STRANDED_REPORT_FALLBACK_MS = 5000;
/** Slack over the provider's own timeouts before the node's backstop fires. */
const GUARD_SLACK_MS = 10_000;

/** A turn a redeploy stopped or kept waiting, for the node of the same id in the next deploy. */
interface ParkedTurn {
  msg: AgentMessage;
  text: string;
  chat: TurnItem['chat'];
  thread: TurnItem['thread'];
  model?: string;
  resume?: ResumedStream;
}

const parkedKey = (id: string) => `agent-call:${id}`;

function parked(item: TurnItem, resume?: ResumedStream): ParkedTurn {
  return { msg: item.msg, text: item.text, chat: item.chat, thread: item.thread, ...(item.model ? { model: item.model } : {}), ...(resume ? { resume } : {}) };
}

/** A provider that cannot be built (a setting is missing): every turn fails with the reason. */
function brokenProvider(message: string): AgentProvider {
  return {
    label: 'not configured',
    complete: () => Promise.reject(new AgentError(message, 'client')),
  };
}

function providerConfig(s: AgentCallSettings, cbUrl: string): ProviderConfig {
  if (s.provider === 'http') {
    return { kind: 'http', url: s.url, auth: s.auth, includeHistory: s.includeHistory, async: s.async, callbackUrl: cbUrl, timeoutMs: s.timeoutMs };
  }
  return {
    kind: 'openai',
    baseUrl: s.baseUrl,
    model: s.model,
    temperature: s.temperature,
    maxTokens: s.maxTokens,
    extraHeaders: s.extraHeaders,
    apiKeyEnv: s.apiKeyEnv,
    maxRetries: s.retries,
    timeoutMs: s.timeoutMs,
  };
}

export = function (RED: NodeAPI): void {
  forgetUnlessRedeploy(RED.events as unknown as Parameters<typeof forgetUnlessRedeploy>[0]);
  function ChatgateAgentCallNode(this: AgentCallNode, def: AgentCallDef & NodeDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    // A message still on its way to the node when a redeploy closes it is the next deploy's node's.
    handOverLateSends(RED, node);
    const creds = node.credentials ?? {};
    // A model from an environment variable is read once, at deploy; one from msg, per message.
    const modelDef = def.modelType === 'env' ? { ...def, model: String(RED.util.evaluateNodeProperty(def.model ?? '', 'env', node, {}) ?? '') } : def;
    const { settings, problems } = readSettings(modelDef, creds);
    const secrets = secretsOf(settings, creds, DEFAULT_API_KEY_ENV);
    const clean = (text: string) => scrub(text, secrets);
    const gateway = getGateway(RED, def.gateway);
    const source = { id: node.id, type: node.type, ...(def.name ? { name: def.name } : {}) };

    const httpSettings = RED.settings as unknown as { httpNodeRoot?: string | false; uiPort?: number };
    const base = settings.callbackBase || (httpSettings.uiPort ? `http://127.0.0.1:${httpSettings.uiPort}` : DEFAULT_CALLBACK_BASE);
    const cbUrl = callbackUrl(base, typeof httpSettings.httpNodeRoot === 'string' ? httpSettings.httpNodeRoot : '/', node.id);

    let provider: AgentProvider;
    let configError: string | undefined;
    if (problems.length) {
      configError = problems.map((p) => RED._(`agent-call.errors.${p}`)).join('; ');
      provider = brokenProvider(configError);
    } else {
      try {
        provider = createProvider(providerConfig(settings, cbUrl), creds);
      } catch (err) {
        configError = clean((err as Error).message);
        provider = brokenProvider(configError);
      }
    }

    let lastError: string | undefined = configError;
    const status = throttleStatus();
    function showStatus(stats: SchedulerStats = scheduler.stats): void {
      const { active, queued } = stats;
      status.set(() => renderStatus(active, queued));
    }
    function renderStatus(active: number, queued: number): void {
      if (!gateway) return node.status({ fill: 'red', shape: 'ring', text: RED._('chatgate.status.noGateway') });
      if (active || queued) {
        return node.status({ fill: 'blue', shape: 'dot', text: RED._('agent-call.status.thinking', { active, queued }) });
      }
      if (lastError) return node.status({ fill: 'red', shape: 'ring', text: RED._('agent-call.status.error', { message: lastError.slice(0, 120) }) });
      node.status({ fill: 'grey', shape: 'ring', text: RED._('agent-call.status.idle', { label: provider.label }) });
    }

    /** A shared store that could not keep a turn: the reply went out, the operator hears of it. */
    const memoryFailed = (err: Error) => node.warn(RED._('agent-call.errors.memoryFailed', { message: clean(err.message) }));

    /** User texts sent to the async agent and not yet answered, by thread id. */
    const pending = new PendingAsks();
    /**
     * Set when a redeploy closes the node: what the next deploy's node takes over, in this order:
     * the turns it stopped, the messages that were waiting, those that came in after the close.
     * Parked again whenever it grows (turns stopped late, messages arriving late).
     */
    let handover: { stopped: ParkedTurn[]; waiting: ParkedTurn[]; late: ParkedTurn[] } | undefined;
    const repark = () => {
      if (handover) park(parkedKey(node.id), [...handover.stopped, ...handover.waiting, ...handover.late]);
    };
    const asyncMode = settings.provider === 'http' && settings.async;

    const remember = settings.memory.maxTurns > 0 && settings.memory.maxChars > 0;
    const keep = (threadId: string, turns: Array<{ role: 'user' | 'assistant'; content: string }>) => {
      if (!gateway || !remember) return;
      const at = Date.now();
      andThen(gateway.ops.appendMemory(threadId, turns.map((t) => ({ ...t, at })), settings.memory), () => undefined, memoryFailed);
    };

    /** Flags the thread for a person; the "human" output's message, so a flow can page someone. */
    function askForPerson(chat: TurnItem['chat'], thread: TurnItem['thread'], text: string, reason: string | undefined, from: HandoffSource): AgentMessage | undefined {
      if (!gateway) return undefined;
      const flag = gateway.operator.flag(thread.id, { source: from, ...(reason ? { reason } : {}) }, { chatJid: chat.chatJid, platform: chat.platform });
      return { payload: text, chat, thread, handoff: { ...(flag.reason ? { reason: flag.reason } : {}), source: from, at: flag.at } };
    }

    const handoffMarker = new HandoffMarker(settings.handoffMarker);

    /**
     * An async agent's reply names only its thread: the chat for the flag and the "human" output
     * comes from the thread's record (a reply listener, for a thread already ended, has none).
     */
    function flagFromCallback(threadId: string, text: string, reason: string | undefined): void {
      andThen(
        gateway!.ops.getThread(threadId),
        (t) => {
          if (!t) return node.warn(RED._('agent-call.errors.handoffNoThread', { thread: threadId }));
          const chat = { platform: t.platform, chatJid: t.chatJid };
          const flag = gateway!.operator.flag(threadId, { source: 'agent', ...(reason ? { reason } : {}) }, chat);
          const human = { payload: text, chat, thread: { id: threadId }, handoff: { ...(flag.reason ? { reason: flag.reason } : {}), source: 'agent', at: flag.at } };
          node.send([null, null, human as unknown as NodeMessage]);
        },
        memoryFailed,
      );
    }

    const runner = new TurnRunner(
      provider,
      {
        history: (id) => gateway?.ops.memoryHistory(id) ?? [],
        append: (id, turns, limits) => {
          if (gateway) andThen(gateway.ops.appendMemory(id, turns, limits), () => undefined, memoryFailed);
        },
      },
      {
        systemPrompt: settings.systemPrompt,
        stream: settings.stream,
        streamIntervalMs: settings.streamIntervalMs,
        typing: settings.typing,
        memory: settings.memory,
        guardMs: Math.min((settings.timeoutMs + GUARD_SLACK_MS) * (settings.retries + 1), 2 ** 31 - 1),
        // The OpenAI SDK retries by itself (maxRetries); the HTTP agent is retried here.
        retries: settings.provider === 'http' ? settings.retries : 0,
        fallback: settings.fallback,
        acceptDeferred: asyncMode,
        source,
        handoff: { marker: handoffMarker, text: settings.handoffText },
      },
      {
        failed: (err) => {
          lastError = err.message;
        },
        succeeded: () => {
          lastError = undefined;
        },
        deferred: (threadId, text) => pending.add(threadId, text),
        scrub: clean,
        handoff: (item, text, reason) => {
          const human = askForPerson(item.chat, item.thread, text, reason, 'agent');
          if (human) item.send([null, null, human]);
        },
        closed: (items, stream) => {
          items.forEach((item, i) => {
            handover?.stopped.push(parked(item, i === items.length - 1 ? stream : undefined));
            item.done();
          });
          repark();
        },
      },
    );

    const scheduler = new TurnScheduler<TurnItem>(
      runner.run,
      { concurrency: settings.concurrency, mode: settings.queueMode, maxQueue: settings.maxQueue, maxTotalQueue: MAX_TOTAL_QUEUE },
      (stats) => showStatus(stats),
    );
    showStatus();

    // The async HTTP agent's way back in.
    let unmount: (() => void) | undefined;
    let callback: AgentCallback | undefined;
    if (asyncMode) {
      const app = RED.httpNode as unknown as HttpApp | undefined;
      const path = callbackPath(node.id);
      if (!app || hasPostRoute(app, path)) {
        lastError = RED._('agent-call.errors.noCallbackRoute', { path });
        showStatus();
      } else {
        callback = new AgentCallback(
          { auth: settings.auth, token: creds.token, secret: creds.secret, maxBytes: CALLBACK_MAX_BYTES },
          {
            knows: async (threadId) =>
              pending.has(threadId) || (!!gateway && (!!(await gateway.ops.getThread(threadId)) || (await gateway.ops.lookupListener(threadId)).ok)),
            deliver: ({ threadId, text }) => {
              const asked = pending.take(threadId);
              // The marker asks for a person here too: cut from the reply, the hand-off text said.
              const marked = handoffMarker.strip(text);
              const reply = marked.found ? (marked.text ? `${marked.text}\n\n${settings.handoffText}` : settings.handoffText) : text;
              if (gateway) {
                const now = Date.now();
                andThen(
                  gateway.ops.appendMemory(
                    threadId,
                    [...(asked !== undefined ? [{ role: 'user' as const, content: asked, at: now }] : []), { role: 'assistant', content: reply, at: now }],
                    settings.memory,
                  ),
                  () => undefined,
                  memoryFailed,
                );
              }
              lastError = undefined;
              showStatus();
              node.send([{ payload: reply, thread: { id: threadId } }, null]);
              if (marked.found && gateway) flagFromCallback(threadId, asked ?? '', marked.reason);
            },
          },
        );
        const stopCapture = captureRawBodies(app, path, CALLBACK_MAX_BYTES, node.id);
        const unroute = mountPost(app, path, callback.handle);
        unmount = () => {
          unroute();
          stopCapture();
        };
      }
    }

    // Turns the previous deploy's node stopped or kept waiting go first, in their order, as if they
    // came in again; a stopped turn's reply goes on in the stream its user already sees.
    // Every message taken is a turn in flight in the gateway's store until its done (turns-guard.ts).
    const userDir = (RED.settings as unknown as { userDir?: string }).userDir || process.env.CHATGATE_STATE_DIR;
    const guard = gateway ? new TurnsGuard(gateway.ops, instanceId(userDir), node.id, memoryFailed) : undefined;
    const tracked = (m: AgentMessage, chat: Chat, thread: ThreadInfo, text: string, done: Done): Done => guard?.track(m, chat, thread, text, done) ?? done;

    for (const t of claim<ParkedTurn[]>(parkedKey(node.id)) ?? []) {
      const send: Send = (msgs) => node.send(msgs as unknown as NodeMessage[]);
      const done: Done = (err) => {
        if (err) node.error(err, t.msg as unknown as NodeMessage);
      };
      gateway?.whenReady(() => {
        const result = scheduler.submit(t.thread.id, { ...t, send, done: tracked(t.msg, t.chat, t.thread, t.text, done) }, composeKey([t.chat.platform, t.chat.channelId, t.chat.chatId]));
        if (result.accepted) return;
        const message = RED._(`agent-call.errors.${result.reason}`, { thread: t.thread.id, max: settings.maxQueue });
        send([null, derived(t.msg, { error: { message, kind: 'overflow', source } })]);
      }, done);
    }

    // Turns a crash cut (this node, this instance, still in the store): each chat is told, once.
    const reportCut = ({ turn }: Stranded) => {
      const chat = { platform: turn.replyTo.platform, channelId: turn.replyTo.channelId, chatId: turn.replyTo.chatId, chatJid: turn.chatJid, replyTo: turn.replyTo };
      const quote = turn.text.length >= QUOTE_CHARS ? `${turn.text}…` : turn.text;
      const message = RED._('agent-call.errors.interrupted', { chat: turn.chatJid, thread: turn.threadId, since: new Date(turn.at).toISOString() });
      const errMsg = { payload: turn.text, chat, thread: { id: turn.threadId }, error: { message, kind: 'interrupted', source } };
      node.send([{ payload: RED._('agent-call.interrupted', { text: quote }), chat, thread: { id: turn.threadId }, interrupted: { at: turn.at } } as unknown as NodeMessage, errMsg as unknown as NodeMessage]);
      node.error(message, errMsg as unknown as NodeMessage);
      lastError = message;
      showStatus();
    };
    // After the whole flow has started (Node-RED creates its nodes one by one, awaiting each): the
    // notices go through the reply router and the out nodes, which must exist by then.
    let reportTimer: NodeJS.Timeout | undefined;
    const events = RED.events as unknown as { once(e: string, f: () => void): void; removeListener(e: string, f: () => void): void };
    const reportOnce = () => {
      events.removeListener('flows:started', reportOnce);
      clearTimeout(reportTimer);
      if (guard) {
        gateway!.whenReady(() => guard.reportStranded(reportCut), () => undefined);
        // Several instances on one Redis: the turns of an instance gone for good are told by a peer.
        guard.watchPeers(reportCut);
      }
    };
    if (guard) {
      events.once('flows:started', reportOnce);
      // Should the event not come (a runtime that starts nodes some other way), a few seconds later.
      reportTimer = setTimeout(reportOnce, STRANDED_REPORT_FALLBACK_MS);
      reportTimer.unref?.();
    }

    node.on('input', (msg: NodeMessage, send: Send, done: Done) => {
      if (!gateway) return done(new Error(RED._('chatgate.errors.noGateway')));
      const m = msg as unknown as AgentMessage;
      const checked = readInput(m);
      if (!checked.ok) {
        node.status({ fill: 'red', shape: 'ring', text: RED._('chatgate.status.invalid', { message: checked.error }) });
        return done(new Error(checked.error));
      }
      gateway.whenReady(() => {
        const { payload, chat, thread } = checked.value;
        let model: string | undefined;
        if (settings.modelFromMsg) {
          const named = RED.util.getMessageProperty(msg, settings.modelFromMsg);
          if (typeof named !== 'string' || !named.trim()) return done(new Error(RED._('agent-call.errors.noModelInMsg', { property: settings.modelFromMsg })));
          model = named.trim();
        }
        // A flow asks for a person (msg.handoff: true or a reason): the agent is not called.
        const ask = m.handoff;
        if (ask === true || (typeof ask === 'string' && ask.trim())) {
          const human = askForPerson(chat, thread, payload, typeof ask === 'string' ? ask : undefined, 'flow');
          keep(thread.id, [
            { role: 'user', content: payload },
            { role: 'assistant', content: settings.handoffText },
          ]);
          delete m.handoff;
          m.payload = settings.handoffText;
          send([m, null, human ?? null]);
          return done();
        }
        // Taken over by an operator, or waiting for one: the message is for a person, not the agent.
        const held = gateway.operator.heldBack(thread.id);
        if (held) {
          gateway.operator.touch(thread.id);
          keep(thread.id, [{ role: 'user', content: payload }]);
          m.operator = held;
          send([null, null, m]);
          return done();
        }
        const item: TurnItem = { msg: m, send, done: tracked(m, chat, thread, payload, done), text: payload, chat, thread, ...(model ? { model } : {}) };
        // A chat is a lane: a chat with many threads waiting cannot hold back another chat's turn.
        const result = scheduler.submit(thread.id, item, composeKey([chat.platform, chat.channelId, chat.chatId]));
        if (result.accepted) return;
        if (result.reason === 'closed' && handover) {
          // Came in while a redeploy closes the node: the next deploy's node answers it.
          handover.late.push(parked(item));
          repark();
          return done();
        }
        // Never dropped silently: the message goes to the error output with the reason.
        const message = RED._(`agent-call.errors.${result.reason}`, { thread: thread.id, max: settings.maxQueue });
        send([null, derived(m, { error: { message, kind: 'overflow', source } })]);
        done();
      }, done);
    });

    node.on('close', (removed: boolean, done: () => void) => {
      events.removeListener('flows:started', reportOnce);
      clearTimeout(reportTimer);
      guard?.stop();
      status.close();
      callback?.close();
      unmount?.();
      // A redeploy (the node stays in the flow): every turn stopped or waiting is kept for the next
      // deploy's node, the stopped ones first (each goes before the waiting messages of its thread).
      // Stays in the flow: what this node finishes from now on was cut, and stays in the store.
      if (!removed) guard?.keep();
      const queued = scheduler.close();
      if (!removed) handover = { stopped: [], waiting: queued.map((item) => parked(item)), late: [] };
      for (const item of queued) item.done();
      repark();
      pending.clear();
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        clearTimeout(grace);
        node.status({});
        done();
      };
      const grace = setTimeout(finish, CLOSE_GRACE_MS);
      void scheduler.settled().then(finish);
    });
  }

  RED.nodes.registerType('chatgate-agent-call', ChatgateAgentCallNode as unknown as (this: Node, def: NodeDef) => void, {
    credentials: {
      apiKey: { type: 'password' },
      token: { type: 'password' },
      secret: { type: 'password' },
    },
  });
};

/**
 * Discord's part of the out side (the kit's PlatformDelivery): how the messages of one reply
 * become REST calls. Two kinds of target:
 *
 *  - a channel (a server channel, a thread, a DM): `POST /channels/{id}/messages`, edits and
 *    deletes on the same path; the first message may quote the user's (message_reference with
 *    fail_if_not_exists false, so a deleted question does not lose the answer). Every POST carries
 *    a random `nonce` with `enforce_nonce`, so a POST repeated after a lost answer gets back the
 *    message Discord created the first time instead of a second one (rest-calls.ts);
 *  - an interaction (a slash command or a button press) while its token lives (15 minutes): the
 *    first message of a command's answer EDITS its deferred reply (`PATCH /webhooks/{app}/{token}/
 *    messages/@original`), every further message is a follow-up (`POST /webhooks/{app}/{token}`),
 *    ephemeral like the deferral. A button press's answers are all follow-ups (its original is the
 *    message with the buttons). After the token's time, replies go to the channel.
 *
 * Every message names `allowed_mentions` (nothing by default, users when the operator allows it),
 * so an agent's `@everyone` or `<@&role>` never pings anyone. Typing is `POST /channels/{id}/typing`
 * (shown for 10 s, refreshed every 8 s); an interaction needs none, its deferral shows "thinking…".
 * Buttons are components under the last message; a file goes with the last message (or after a
 * stream). Ordering, streams and typing book-keeping are the kit's ChannelSender; rate limits are
 * @discordjs/rest's buckets.
 */
import { randomBytes } from 'node:crypto';
import type { RawFile } from 'discord.js';
import { DISCORD_MARKDOWN, renderAndSplit, type RenderedPart } from '../core/delivery';
import { ChannelSender, NoConnectionError, type Delivered, type PlatformDelivery } from '../core/kit/channel-sender';
import type { OutFile } from '../core/kit/out-file';
import type { Outbound } from '../core/outbound';
import type { DiscordAddress } from './address';
import type { ActionRow } from './components';
import type { DiscordConnection } from './connection';
import type { InteractionRecord } from './interaction-book';
import { CallbackType, EPHEMERAL } from './interactions';
import { classify, InteractionExpiredError } from './send-errors';

export type { Delivered };

export interface DiscordReply {
  out: Outbound;
  address: DiscordAddress;
  components?: ActionRow[];
  file?: OutFile;
}

export interface SenderOptions {
  /** The bot's connection; a function, since it may not exist yet when the node starts. */
  connection: () => DiscordConnection | undefined;
  /** Quote the user's message in the first message of a reply. */
  replyToMessage: boolean;
  typing: boolean;
  mentions: 'none' | 'users';
  editIntervalMs?: number;
  typingIntervalMs?: number;
  streamIdleMs?: number;
  onBackgroundError?: (error: unknown) => void;
}

/** Discord shows a typing indicator for 10 s; refreshed before it goes. */
const TYPING_INTERVAL_MS = 8000;
/** Discord allows about five edits of a message per 5 s; one a second leaves room for the rest. */
const EDIT_INTERVAL_MS = 1200;

/** Replies are Discord Markdown (the delivery engine's renderer), split at 2,000 characters. */
export const DISCORD_FORMAT = DISCORD_MARKDOWN;

export class NoBotError extends NoConnectionError {}

/** A message we sent: in a channel, or through an interaction's webhook. */
type SentId = `c:${string}` | `w:${string}`;

interface MessageBody {
  content: string;
  allowed_mentions: { parse: string[]; replied_user: boolean };
  components?: ActionRow[];
  attachments?: Array<{ id: number; filename: string; description?: string }>;
}

class DiscordDelivery implements PlatformDelivery<DiscordAddress, DiscordReply> {
  readonly format = DISCORD_FORMAT;
  readonly typingIntervalMs: number;

  constructor(private readonly opts: SenderOptions) {
    this.typingIntervalMs = opts.typingIntervalMs ?? TYPING_INTERVAL_MS;
  }

  hasExtra(reply: DiscordReply): boolean {
    return reply.file !== undefined || reply.components !== undefined;
  }

  async sendWhole(reply: DiscordReply, parts: RenderedPart[]): Promise<number> {
    const texts = parts.length ? parts.map((p) => p.text) : [''];
    for (let i = 0; i < texts.length; i++) {
      const last = i === texts.length - 1;
      await this.post(reply, texts[i], i === 0, last ? reply.components : undefined, last ? reply.file : undefined);
    }
    return texts.length;
  }

  stream(reply: DiscordReply) {
    return {
      send: (part: RenderedPart, first: boolean) => this.post(reply, part.text, first),
      edit: (id: string, part: RenderedPart) => this.edit(reply, id as SentId, part.text),
      delete: (id: string) => this.remove(reply, id as SentId),
    };
  }

  /** Buttons go under the last streamed message once it is whole (an edit with the final text); the file follows. */
  async afterStream(reply: DiscordReply, ids: string[]): Promise<number> {
    const last = ids.at(-1) as SentId | undefined;
    if (reply.components && last) {
      const text = this.finalText(reply);
      await this.edit(reply, last, text, reply.components);
    }
    if (!reply.file) return 0;
    await this.post(reply, '', false, undefined, reply.file);
    return 1;
  }

  typing(address: DiscordAddress): (() => Promise<unknown>) | undefined {
    const c = this.opts.connection();
    // An interaction's deferral already shows "thinking…" until the answer replaces it.
    if (!c || c.interactions.live(address.interactionId)?.acked !== undefined) return undefined;
    return () => c.calls.call('POST', `/channels/${address.channel}/typing`, { kind: 'idempotent', retries: 0 });
  }

  private connection(): DiscordConnection {
    const c = this.opts.connection();
    if (!c) throw new NoBotError('no discord bot connection');
    return c;
  }

  private body(content: string, components?: ActionRow[], file?: OutFile): MessageBody {
    const users = this.opts.mentions === 'users';
    return {
      content,
      allowed_mentions: { parse: users ? ['users'] : [], replied_user: users },
      ...(components ? { components } : {}),
      ...(file ? { attachments: [{ id: 0, filename: file.filename, ...(file.title ? { description: file.title.slice(0, 1024) } : {}) }] } : {}),
    };
  }

  /**
   * The interaction this reply answers, once it was acknowledged and while its token lasts; after
   * that the reply goes to the channel — unless the interaction was answered ephemerally: what only
   * the asker was to see is never posted for everyone (InteractionExpiredError instead).
   */
  private interaction(reply: DiscordReply): InteractionRecord | undefined {
    const book = this.connection().interactions;
    const r = book.find(reply.address.interactionId);
    if (!r || r.acked === undefined) return undefined;
    if (book.isLive(r)) return r;
    if (r.ephemeral) throw new InteractionExpiredError('the ephemeral interaction expired');
    return undefined;
  }

  /** One message; returns its id for later edits. */
  private async post(reply: DiscordReply, content: string, first: boolean, components?: ActionRow[], file?: OutFile): Promise<SentId> {
    const c = this.connection();
    const body = this.body(content, components, file);
    const files: RawFile[] | undefined = file ? [{ name: file.filename, data: file.data }] : undefined;
    const hook = this.interaction(reply);
    if (hook) {
      if (hook.acked === CallbackType.DeferredChannelMessage && !hook.originalUsed) {
        await c.calls.call('PATCH', `/webhooks/${hook.applicationId}/${hook.token}/messages/@original`, { kind: 'idempotent', auth: false, body, ...(files ? { files } : {}) });
        hook.originalUsed = true;
        return 'w:@original';
      }
      const m = await c.calls.call('POST', `/webhooks/${hook.applicationId}/${hook.token}`, {
        kind: 'once',
        auth: false,
        query: new URLSearchParams({ wait: 'true' }),
        body: { ...body, ...(hook.ephemeral ? { flags: EPHEMERAL } : {}) },
        ...(files ? { files } : {}),
        what: 'the interaction follow-up',
      });
      return `w:${idOf(m)}`;
    }
    const quote = first && this.opts.replyToMessage && reply.address.messageId !== undefined;
    const m = await c.calls.call('POST', `/channels/${reply.address.channel}/messages`, {
      kind: 'create',
      body: {
        ...body,
        // A repeat after a lost answer returns the first message instead of making a second.
        nonce: randomBytes(12).toString('hex'),
        enforce_nonce: true,
        ...(quote ? { message_reference: { message_id: reply.address.messageId, fail_if_not_exists: false } } : {}),
      },
      ...(files ? { files } : {}),
    });
    return `c:${idOf(m)}`;
  }

  private async edit(reply: DiscordReply, id: SentId, content: string, components?: ActionRow[]): Promise<void> {
    const c = this.connection();
    const body = this.body(content, components);
    if (id.startsWith('c:')) {
      await c.calls.call('PATCH', `/channels/${reply.address.channel}/messages/${id.slice(2)}`, { kind: 'idempotent', body });
      return;
    }
    const hook = c.interactions.live(reply.address.interactionId);
    if (!hook) throw new InteractionExpiredError('interaction token expired');
    await c.calls.call('PATCH', `/webhooks/${hook.applicationId}/${hook.token}/messages/${id.slice(2)}`, { kind: 'idempotent', auth: false, body });
  }

  private async remove(reply: DiscordReply, id: SentId): Promise<void> {
    const c = this.connection();
    try {
      if (id.startsWith('c:')) {
        await c.calls.call('DELETE', `/channels/${reply.address.channel}/messages/${id.slice(2)}`, { kind: 'idempotent' });
        return;
      }
      const hook = c.interactions.live(reply.address.interactionId);
      if (!hook) throw new InteractionExpiredError('interaction token expired');
      await c.calls.call('DELETE', `/webhooks/${hook.applicationId}/${hook.token}/messages/${id.slice(2)}`, { kind: 'idempotent', auth: false });
    } catch (err) {
      // Deleted already (a repeat after a lost answer, or by a moderator): what we wanted.
      if (classify(err).kind !== 'notFound') throw err;
    }
  }

  /** The text of the reply's last message, as the stream left it. */
  private finalText(reply: DiscordReply): string {
    return renderAndSplit(reply.out.text, this.format).at(-1)?.text ?? '';
  }
}

function idOf(m: unknown): string {
  const id = (m as { id?: unknown } | null)?.id;
  if (typeof id !== 'string' || !id) throw new Error('Discord answered a message post without the message id');
  return id;
}

/** Discord's out side: the kit's sender with Discord's delivery. */
export class DiscordSender extends ChannelSender<DiscordAddress, DiscordReply> {
  constructor(opts: SenderOptions) {
    super(new DiscordDelivery(opts), {
      typing: opts.typing,
      editIntervalMs: opts.editIntervalMs ?? EDIT_INTERVAL_MS,
      ...(opts.streamIdleMs !== undefined ? { streamIdleMs: opts.streamIdleMs } : {}),
      ...(opts.onBackgroundError ? { onBackgroundError: opts.onBackgroundError } : {}),
    });
  }
}

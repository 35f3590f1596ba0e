/**
 * The custom webhook channel's request body: what any platform or script POSTs to a webhook in
 * node, validated before anything reaches the flow.
 */
import { z } from 'zod';
import { AttachmentSchema, describeIssues, MAX_ID_LENGTH, type Chat, type Result } from './envelope';
import { buildChat } from './inbound';

const Id = z.string().min(1).max(MAX_ID_LENGTH);

/** Long enough for any chat message; a cap keeps one request from flooding an agent's context. */
export const MAX_TEXT_LENGTH = 100_000;
export const MAX_ATTACHMENTS = 32;

export const WebhookBodySchema = z
  .object({
    userId: Id,
    chatId: Id.optional(),
    text: z.string().max(MAX_TEXT_LENGTH),
    userName: z.string().max(1024).optional(),
    messageId: Id.optional(),
    attachments: z.array(AttachmentSchema).max(MAX_ATTACHMENTS).optional(),
  })
  .refine((b) => b.text.trim() !== '' || (b.attachments?.length ?? 0) > 0, {
    path: ['text'],
    message: 'empty (send text, attachments or both)',
  });
export type WebhookBody = z.infer<typeof WebhookBodySchema>;

/** Parses the raw request body; the error names the field (`body.text: ...`) or says it is not JSON. */
export function parseWebhookBody(raw: Buffer | string): Result<WebhookBody> {
  let json: unknown;
  try {
    json = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch {
    return { ok: false, error: 'body is not JSON' };
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return { ok: false, error: 'body: expected a JSON object' };
  const parsed = WebhookBodySchema.safeParse(json);
  if (!parsed.success) return { ok: false, error: describeIssues(parsed.error, 'body') };
  return { ok: true, value: parsed.data };
}

/** The envelope for a webhook message; a chatId other than the sender's makes it a group chat. */
export function webhookChat(body: WebhookBody, channelId: string, now = new Date()): Chat {
  const chatId = body.chatId ?? body.userId;
  return buildChat(
    {
      platform: 'webhook',
      channelId,
      chatId,
      chatType: body.chatId && body.chatId !== body.userId ? 'group' : 'direct',
      userId: body.userId,
      userName: body.userName,
      messageId: body.messageId,
      attachments: body.attachments,
    },
    body.text,
    now,
  );
}

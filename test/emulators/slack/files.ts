/**
 * The file methods: the three-step upload the web client's files.uploadV2 runs
 * (files.getUploadURLExternal, a POST of the bytes to the upload_url, files.completeUploadExternal,
 * which shares the files in a message) and files.info.
 */
import { randomBytes } from 'node:crypto';
import { blockTexts } from './mrkdwn';
import type { ChannelRecord, SlackState } from './state';
import type { Json, Params, SlackFile, SlackMessage } from './types';
import { jsonField, missing, SlackApiError, str, validateBlocks, type TextCheck } from './args';

interface PendingUpload {
  file_id: string;
  filename: string;
  length: number;
  alt_txt?: string;
  data?: Buffer;
}

export interface MessageHelpers {
  channelOf(v: unknown, forPosting?: boolean): ChannelRecord;
  threadOf(channel: ChannelRecord, v: unknown): string | undefined;
  newBotMessage(channel: ChannelRecord, fields: Partial<SlackMessage> & { text: string; markdown: boolean }): SlackMessage;
}

export function createFileMethods(state: SlackState, checkTexts: TextCheck, { channelOf, threadOf, newBotMessage }: MessageHelpers) {
  const { id } = state;
  const uploads = new Map<string, PendingUpload>();
  const uploadsByTicket = new Map<string, string>();

  const methods: Record<string, (params: Params) => Json> = {
    'files.getUploadURLExternal': (params) => {
      const filename = str(params.filename);
      if (!filename) throw missing('filename');
      const length = Number(params.length);
      if (!Number.isFinite(length) || length <= 0) throw new SlackApiError('missing_argument');
      const fileId = state.newId('F');
      const ticket = randomBytes(12).toString('hex');
      uploads.set(fileId, { file_id: fileId, filename, length, ...(str(params.alt_txt ?? params.alt_text) ? { alt_txt: str(params.alt_txt ?? params.alt_text) } : {}) });
      uploadsByTicket.set(ticket, fileId);
      return { upload_url: `${state.baseUrl}/upload/v1/${ticket}`, file_id: fileId };
    },

    'files.completeUploadExternal': (params) => {
      const list = jsonField(params, 'files', 'invalid_arguments');
      if (list === undefined) throw missing('files');
      if (!Array.isArray(list) || !list.length) throw new SlackApiError('invalid_arguments');
      const pending = (list as Json[]).map((f) => {
        const u = uploads.get(String(f?.id ?? ''));
        if (!u || !u.data) throw new SlackApiError('file_not_found');
        return { u, title: str(f.title) };
      });
      const channelIds = str(params.channel_id) ? [str(params.channel_id) as string] : (str(params.channels)?.split(',').filter(Boolean) ?? []);
      const channels = channelIds.map((c) => channelOf(c, true));
      const comment = str(params.initial_comment);
      const blocks = comment ? undefined : validateBlocks(jsonField(params, 'blocks', 'invalid_blocks'));
      if (comment) checkTexts('files.completeUploadExternal', channels[0]?.id, [{ field: 'initial_comment', text: comment, markdown: false }], { linkNames: false });
      if (blocks) checkTexts('files.completeUploadExternal', channels[0]?.id, blockTexts(blocks), { linkNames: false });
      const files: SlackFile[] = pending.map(({ u, title }) => {
        uploads.delete(u.file_id);
        const safe = encodeURIComponent(u.filename);
        const now = Math.floor(Date.now() / 1000);
        const ext = u.filename.includes('.') ? u.filename.split('.').pop()!.toLowerCase() : 'binary';
        const file: SlackFile = {
          id: u.file_id,
          created: now,
          timestamp: now,
          name: u.filename,
          title: title ?? u.filename,
          mimetype: mimeOf(ext),
          filetype: ext,
          pretty_type: ext.toUpperCase(),
          user: id.botUserId,
          user_team: id.teamId,
          size: u.data?.length ?? 0,
          mode: 'hosted',
          is_external: false,
          is_public: channels.some((c) => c.type === 'channel'),
          url_private: `${state.baseUrl}/files-pri/${id.teamId}-${u.file_id}/${safe}`,
          url_private_download: `${state.baseUrl}/files-pri/${id.teamId}-${u.file_id}/download/${safe}`,
          permalink: `https://${id.teamDomain}.slack.com/files/${id.botUserId}/${u.file_id}/${safe}`,
          channels: channels.map((c) => c.id),
          ...(u.alt_txt ? { alt_txt: u.alt_txt } : {}),
        };
        state.files.set(u.file_id, { file, data: u.data ?? Buffer.alloc(0) });
        return file;
      });
      for (const channel of channels) {
        const threadTs = threadOf(channel, params.thread_ts);
        newBotMessage(channel, { text: comment ?? '', markdown: false, files, ...(threadTs ? { thread_ts: threadTs } : {}), ...(blocks ? { blocks } : {}) });
      }
      return { files: files.map((f) => ({ id: f.id, title: f.title })) };
    },

    'files.info': (params) => {
      const f = state.files.get(str(params.file) ?? '');
      if (!f) throw new SlackApiError('file_not_found');
      return { file: f.file, comments: [], response_metadata: { next_cursor: '' } };
    },
  };

  /** The bytes POSTed to an upload_url; false when the ticket is unknown. */
  function receiveUpload(ticket: string, data: Buffer): boolean {
    const fileId = uploadsByTicket.get(ticket);
    const u = fileId ? uploads.get(fileId) : undefined;
    if (!u) return false;
    u.data = data;
    uploadsByTicket.delete(ticket);
    return true;
  }

  return { methods, receiveUpload };
}

function mimeOf(ext: string): string {
  const types: Record<string, string> = {
    txt: 'text/plain',
    md: 'text/markdown',
    csv: 'text/csv',
    json: 'application/json',
    pdf: 'application/pdf',
    png: 'image/png',
    jpg: 'image/jpeg',
    jpeg: 'image/jpeg',
    gif: 'image/gif',
    zip: 'application/zip',
  };
  return types[ext] ?? 'application/octet-stream';
}

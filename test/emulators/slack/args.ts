/**
 * Argument handling shared by the emulator's Web API methods: Slack's error type, form/JSON field
 * parsing, and the Block Kit and chunk checks behind invalid_blocks / invalid_chunks.
 */
import type { TextField } from './mrkdwn';
import type { Json, Params } from './types';

export class SlackApiError extends Error {
  constructor(
    readonly error: string,
    readonly extra: Json = {},
  ) {
    super(error);
  }
}

const MAX_BLOCKS = 50;
const SECTION_TEXT_LIMIT = 3000;
const CHUNK_TYPES = new Set(['markdown_text', 'task_update', 'plan_update', 'blocks']);

export interface TextCheck {
  (method: string, channel: string | undefined, fields: TextField[], opts: { linkNames: boolean }): void;
}

export function bool(v: unknown): boolean {
  return v === true || v === 'true' || v === '1' || v === 1;
}

export function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return undefined;
}

export function missing(field: string): SlackApiError {
  return new SlackApiError('invalid_arguments', { response_metadata: { messages: [`[ERROR] missing required field: ${field}`] } });
}

/** Form fields carry arrays and objects as JSON strings; JSON bodies carry them as they are. */
export function jsonField(params: Params, name: string, error: string): unknown {
  const v = params[name];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v);
  } catch {
    throw new SlackApiError(error);
  }
}

export function validateBlocks(blocks: unknown): unknown[] | undefined {
  if (blocks === undefined) return undefined;
  if (!Array.isArray(blocks)) throw new SlackApiError('invalid_blocks_format');
  if (blocks.length > MAX_BLOCKS) throw new SlackApiError('msg_blocks_too_many');
  const errors: string[] = [];
  blocks.forEach((b, i) => {
    if (!b || typeof b !== 'object' || typeof (b as Json).type !== 'string') {
      errors.push(`missing required field: type [json-pointer:/blocks/${i}]`);
      return;
    }
    const block = b as Json;
    if (block.type === 'section') {
      const t = block.text as Json | undefined;
      if (!t && !block.fields) errors.push(`must provide either text or fields [json-pointer:/blocks/${i}]`);
      if (t && typeof t.text === 'string' && t.text.length > SECTION_TEXT_LIMIT) errors.push(`must be less than ${SECTION_TEXT_LIMIT + 1} characters [json-pointer:/blocks/${i}/text/text]`);
      if (t && t.type !== 'mrkdwn' && t.type !== 'plain_text') errors.push(`must be a valid enum value [json-pointer:/blocks/${i}/text/type]`);
    }
    if (block.type === 'markdown' && typeof block.text !== 'string') errors.push(`missing required field: text [json-pointer:/blocks/${i}]`);
    if (block.type === 'header') {
      const t = block.text as Json | undefined;
      if (!t || t.type !== 'plain_text') errors.push(`must be a plain_text object [json-pointer:/blocks/${i}/text]`);
      else if (String(t.text ?? '').length > 150) errors.push(`must be less than 151 characters [json-pointer:/blocks/${i}/text/text]`);
    }
  });
  if (errors.length) throw new SlackApiError('invalid_blocks', { errors, response_metadata: { messages: errors.map((e) => `[ERROR] ${e}`) } });
  return blocks;
}

export function validateChunks(chunks: unknown): Json[] | undefined {
  if (chunks === undefined) return undefined;
  if (!Array.isArray(chunks)) throw new SlackApiError('invalid_chunks');
  for (const c of chunks) {
    if (!c || typeof c !== 'object' || !CHUNK_TYPES.has(String((c as Json).type))) throw new SlackApiError('invalid_chunks');
    if ((c as Json).type === 'markdown_text' && typeof (c as Json).text !== 'string') throw new SlackApiError('invalid_chunks');
  }
  return chunks as Json[];
}


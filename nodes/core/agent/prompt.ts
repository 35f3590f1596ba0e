/**
 * The system prompt and the message list sent to an agent. Placeholders name a path inside the
 * envelope (`{{chat.userName}}`, `{{thread.id}}`); they are looked up, never evaluated, and only
 * under `chat` and `thread`, so a prompt cannot reach anything else (environment, settings, code).
 */
import type { MemoryTurn } from '../memory';
import type { ChatMessage } from './types';

export interface PromptContext {
  chat?: unknown;
  thread?: unknown;
}

const PLACEHOLDER = /\{\{\s*([A-Za-z_$][\w$-]*(?:\.[\w$-]+)*)\s*\}\}/g;
const ROOTS = new Set(['chat', 'thread']);

/** The value at `path` (dot separated) under `context`, as text; unknown paths and objects give ''. */
export function lookup(context: PromptContext, path: string): string {
  const [root, ...rest] = path.split('.');
  if (!ROOTS.has(root)) return '';
  let value: unknown = root === 'chat' ? context.chat : context.thread;
  for (const key of rest) {
    // Own properties only: `constructor`, `__proto__` and friends are not envelope fields.
    if (value === null || typeof value !== 'object' || !Object.prototype.hasOwnProperty.call(value, key)) return '';
    value = (value as Record<string, unknown>)[key];
  }
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return '';
}

/** Fills every `{{chat.x}}` / `{{thread.x}}` placeholder; anything else in braces becomes ''. */
export function fillPrompt(template: string, context: PromptContext): string {
  return template.replace(PLACEHOLDER, (_m, path: string) => lookup(context, path));
}

/** System prompt (when any), the thread's history oldest first, then this turn's user text. */
export function buildMessages(systemPrompt: string, history: MemoryTurn[], text: string): ChatMessage[] {
  const messages: ChatMessage[] = [];
  if (systemPrompt.trim()) messages.push({ role: 'system', content: systemPrompt });
  for (const t of history) messages.push({ role: t.role, content: t.content });
  messages.push({ role: 'user', content: text });
  return messages;
}

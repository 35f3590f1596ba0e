/**
 * The suggested prompts an operator sets for new AI-app threads (assistant.threads.setSuggestedPrompts):
 * up to four `{ title, message }`, as the editor saves them (an array, or its JSON from an old
 * flow). Anything that is not such a list is no prompts, never a failed deploy.
 */
import { z } from 'zod';

/** Slack takes at most four suggested prompts. */
export const MAX_PROMPTS = 4;

const PromptSchema = z.object({ title: z.string().trim().min(1).max(200), message: z.string().trim().min(1).max(4000) });
export type Prompt = z.infer<typeof PromptSchema>;

export function readPrompts(value: unknown): Prompt[] {
  let v = value;
  if (typeof v === 'string') {
    try {
      v = v.trim() ? JSON.parse(v) : [];
    } catch {
      return [];
    }
  }
  if (!Array.isArray(v)) return [];
  return v
    .map((p) => PromptSchema.safeParse(p))
    .filter((r) => r.success)
    .map((r) => r.data as Prompt)
    .slice(0, MAX_PROMPTS);
}

/**
 * A Bot API answer is `{ok: true, result}` or `{ok: false, error_code, description, parameters}`.
 * A proxy or a half-compatible server may answer `null`, an array or `{ok: "yes"}`; grammy passes
 * that on and the transformers after it (auto-retry reads `result.parameters`) throw a TypeError
 * that says nothing useful. Installed first, so it sits next to the network: anything that is not
 * an answer becomes a failed answer without code or description, which describeSendError reports
 * as "an error of an unexpected shape" for the method that got it.
 */
import type { Transformer } from 'grammy';

export function answerShape(): Transformer {
  return async (prev, method, payload, signal) => {
    const answer: unknown = await prev(method, payload, signal);
    if (answer && typeof answer === 'object' && !Array.isArray(answer) && typeof (answer as { ok?: unknown }).ok === 'boolean') {
      const a = answer as { ok: boolean; parameters?: unknown };
      // auto-retry and grammy read parameters.retry_after; a string or null there must not throw.
      if (!a.ok && (typeof a.parameters !== 'object' || a.parameters === null)) return { ...a, parameters: {} } as never;
      return answer as never;
    }
    return { ok: false } as never;
  };
}

/**
 * Any OpenAI-compatible chat completions server, through the official SDK. Retries are the SDK's:
 * it honours Retry-After on 429 and backs off on 408/409/5xx and connection errors, `maxRetries`
 * times. What is left after that is mapped to an AgentError kind.
 */
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { AgentProvider, AgentRequest, AgentResult } from '../../core/agent/types';
import { AgentError } from '../../core/agent/types';
import { CallerError, Watchdog, hostOf, parseRetryAfter, redact } from './http-provider';
import type { OpenAIConfig, ProviderCredentials } from './index';

export const DEFAULT_BASE_URL = 'https://api.openai.com/v1';
export const DEFAULT_API_KEY_ENV = 'OPENAI_API_KEY';
/** The SDK insists on a key; servers that need none (Ollama, llama.cpp, the demo) ignore this one. */
export const PLACEHOLDER_API_KEY = 'not-needed';
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The key from the credential, else from the configured environment variable, else the placeholder. */
export function resolveApiKey(credential: string | undefined, envName: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const fromCredential = credential?.trim();
  if (fromCredential) return fromCredential;
  const name = envName?.trim() || DEFAULT_API_KEY_ENV;
  const fromEnv = ENV_NAME.test(name) ? env[name]?.trim() : undefined;
  return fromEnv || PLACEHOLDER_API_KEY;
}

export class OpenAIProvider implements AgentProvider {
  readonly label: string;
  private readonly client: OpenAI;
  private readonly secrets: string[];

  constructor(
    private readonly config: OpenAIConfig,
    credentials: ProviderCredentials = {},
  ) {
    const baseURL = config.baseUrl?.trim() || DEFAULT_BASE_URL;
    const apiKey = resolveApiKey(credentials.apiKey, config.apiKeyEnv);
    // Extra headers may carry keys of their own (e.g. `api-key` for Azure): keep them out of errors too.
    this.secrets = [apiKey === PLACEHOLDER_API_KEY ? undefined : apiKey, ...Object.values(config.extraHeaders ?? {}).filter((v) => v.length >= 8)].filter(
      (s): s is string => typeof s === 'string',
    );
    this.label = `${config.model || 'model from msg'} @ ${hostOf(baseURL)}`;
    this.client = new OpenAI({
      baseURL,
      apiKey,
      defaultHeaders: config.extraHeaders,
      maxRetries: config.maxRetries ?? 2,
      timeout: config.timeoutMs,
      // Failures reach the user through AgentError; the SDK's own console logging stays off unless asked for.
      ...(process.env.OPENAI_LOG ? {} : { logLevel: 'off' as const }),
    });
  }

  private fail(message: string, kind: AgentError['kind'], options: { status?: number; retryAfterMs?: number } = {}): AgentError {
    return new AgentError(redact(`${this.label}: ${message}`, this.secrets), kind, options);
  }

  async complete(request: AgentRequest, onDelta?: (delta: string) => void): Promise<AgentResult> {
    const messages: ChatCompletionMessageParam[] = request.messages.map((m) => ({ role: m.role, content: m.content }));
    const params = {
      model: request.model || this.config.model,
      messages,
      ...(typeof this.config.temperature === 'number' ? { temperature: this.config.temperature } : {}),
      ...(typeof this.config.maxTokens === 'number' && this.config.maxTokens > 0 ? { max_tokens: this.config.maxTokens } : {}),
    };
    if (!onDelta) {
      // A whole reply is bounded by the SDK's own timeout: the caller's signal goes to it as it is,
      // without a watchdog's controller and listeners on every turn.
      try {
        const completion = await this.client.chat.completions.create({ ...params, stream: false }, { signal: request.signal });
        const content: unknown = completion?.choices?.[0]?.message?.content;
        if (typeof content !== 'string') throw this.fail('reply has no choices[0].message.content', 'malformed');
        return { kind: 'reply', text: content };
      } catch (err) {
        throw this.map(err, request.signal);
      }
    }

    // The SDK's timeout ends when the response starts; the watchdog then bounds silences in a stream.
    const watchdog = new Watchdog(request.signal, this.config.timeoutMs);
    try {
      const stream = await this.client.chat.completions.create({ ...params, stream: true }, { signal: watchdog.signal });
      watchdog.kick();
      let text = '';
      let sawChoice = false;
      for await (const chunk of stream) {
        watchdog.kick();
        const choice = chunk?.choices?.[0];
        if (!choice) continue;
        sawChoice = true;
        const delta: unknown = choice.delta?.content;
        if (typeof delta !== 'string' || !delta) continue;
        text += delta;
        try {
          onDelta(delta);
        } catch (err) {
          throw new CallerError(err);
        }
      }
      // The SDK ends the iteration quietly when its signal aborts: find out why it ended.
      if (watchdog.signal.aborted) throw new APIUserAbortError();
      if (!sawChoice) throw this.fail('stream ended without any choices', 'malformed');
      return { kind: 'reply', text };
    } catch (err) {
      if (err instanceof CallerError) throw err.cause;
      throw this.map(err, request.signal, watchdog);
    } finally {
      watchdog.dispose();
    }
  }

  private map(err: unknown, signal: AbortSignal, watchdog?: Watchdog): AgentError {
    if (err instanceof AgentError) return err;
    if (watchdog?.timedOut) return this.fail(`stream stalled for ${this.config.timeoutMs} ms`, 'timeout');
    if (signal.aborted || err instanceof APIUserAbortError) return this.fail('request cancelled', 'aborted');
    if (err instanceof APIConnectionTimeoutError) return this.fail(`no answer within ${this.config.timeoutMs} ms`, 'timeout');
    if (err instanceof APIConnectionError) {
      const cause = (err.cause as { code?: string; message?: string } | undefined) ?? undefined;
      const detail = cause?.code ?? cause?.message;
      return this.fail(`${err.message}${detail ? ` (${detail})` : ''}`, 'connection');
    }
    if (err instanceof APIError) {
      const status = err.status;
      if (status === undefined) return this.fail(`stream reported an error: ${err.message}`, 'server');
      if (status === 429) return this.fail(err.message, 'rate-limit', { status, retryAfterMs: parseRetryAfter(err.headers) });
      if (status >= 500) return this.fail(err.message, 'server', { status });
      if (status === 408) return this.fail(err.message, 'timeout', { status });
      return this.fail(err.message, 'client', { status });
    }
    if (err instanceof SyntaxError) return this.fail(`reply is not valid JSON (${err.message})`, 'malformed');
    // Undici reports a connection cut inside a body as a TypeError ("terminated").
    const message = err instanceof Error ? err.message : String(err);
    return this.fail(message, 'connection');
  }
}

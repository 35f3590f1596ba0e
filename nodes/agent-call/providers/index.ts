/**
 * The agent providers the agent call node can use, their configuration and the factory that
 * builds one. Secrets travel apart from the config (Node-RED credentials) and never into a label.
 */
import type { AgentProvider } from '../../core/agent/types';
import { HttpAgentProvider } from './http-provider';
import { OpenAIProvider } from './openai-provider';

export { HttpAgentProvider } from './http-provider';
export { OpenAIProvider } from './openai-provider';

/** Any OpenAI-compatible chat completions server (OpenAI, Ollama, vLLM, llama.cpp, LM Studio, OpenRouter). */
export interface OpenAIConfig {
  /** Base URL ending in /v1, e.g. http://localhost:11434/v1 for Ollama; empty = OpenAI itself. */
  baseUrl: string;
  model: string;
  temperature?: number;
  maxTokens?: number;
  /** Sent with every request (e.g. OpenRouter's HTTP-Referer). Values are kept out of errors. */
  extraHeaders?: Record<string, string>;
  /** Environment variable holding the key when the credential is empty (default OPENAI_API_KEY). */
  apiKeyEnv?: string;
  /** Retries done by the SDK on 408/409/429/5xx and connection errors, honouring Retry-After (default 2). */
  maxRetries?: number;
  /** Per attempt: until the response starts, and then the longest silence inside a streamed reply. */
  timeoutMs: number;
}

/** An external agent process reached over HTTP (Codebolt, Botpress, your own service). */
export interface HttpAgentConfig {
  url: string;
  auth: 'none' | 'bearer' | 'hmac';
  /** Send the thread's history with each turn (for agents that keep no memory of their own). */
  includeHistory: boolean;
  /** The agent answers 202 and posts the reply later to `callbackUrl`. */
  async: boolean;
  callbackUrl?: string;
  /** Until the response starts, and then the longest silence inside a streamed reply. */
  timeoutMs: number;
}

export interface ProviderCredentials {
  /** OpenAI-compatible API key. */
  apiKey?: string;
  /** HTTP agent bearer token. */
  token?: string;
  /** HTTP agent HMAC secret. */
  secret?: string;
}

export type ProviderConfig = ({ kind: 'openai' } & OpenAIConfig) | ({ kind: 'http' } & HttpAgentConfig);

export function createProvider(config: ProviderConfig, credentials: ProviderCredentials = {}): AgentProvider {
  switch (config.kind) {
    case 'openai':
      return new OpenAIProvider(config, credentials);
    case 'http':
      return new HttpAgentProvider(config, credentials);
    default: {
      const unknown: never = config;
      throw new Error(`unknown agent provider kind: ${String((unknown as { kind?: unknown }).kind)}`);
    }
  }
}

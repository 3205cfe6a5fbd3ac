/**
 * The forwarding rules of each API a custom server may speak: which calls under `/endpoints/{name}/...` reach it
 * (anything else is a 404 naming what does), and where the token counts of an answer are, for usage records.
 *
 * - `openai`: `/v1/...` (vLLM, llama-server, Ollama, TGI's Messages API); tokens from `usage`, in the JSON answer
 *   or in a stream's chunks (`stream_options.include_usage`).
 * - `hf`: Hugging Face task payloads, `POST /endpoints/{name}` to the server's `/` (a custom container's contract).
 * - `tgi`: text-generation-inference's routes; tokens from `details.generated_tokens` where asked for, or `usage`.
 * - `raw`: every method and path, forwarded as is.
 */
import type { ApiKind } from './spec.ts';

export interface TokenCounts {
  inputTokens?: number;
  outputTokens?: number;
}

export interface ApiKindRules {
  /** `rest` is the path after `/endpoints/{name}/`, without a leading slash ('' for the endpoint's root). */
  allows(method: string, rest: string): boolean;
  /** The calls it forwards, for the 404 of any other. */
  describe: string;
  /** Token counts in one JSON answer or stream event, if it has them. */
  tokens(json: unknown): TokenCounts | undefined;
}

function record(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function openAiUsage(json: unknown): TokenCounts | undefined {
  const usage = record(record(json)?.usage);
  if (!usage) return undefined;
  return { inputTokens: num(usage.prompt_tokens), outputTokens: num(usage.completion_tokens) };
}

function tgiDetails(json: unknown): TokenCounts | undefined {
  const first = Array.isArray(json) ? json[0] : json;
  const generated = num(record(record(first)?.details)?.generated_tokens);
  return generated === undefined ? openAiUsage(json) : { outputTokens: generated };
}

export const API_KIND_RULES: Record<ApiKind, ApiKindRules> = {
  openai: {
    allows: (method, rest) => (method === 'POST' || method === 'GET') && rest.startsWith('v1/'),
    describe: 'POST or GET /v1/... (e.g. /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/models)',
    tokens: openAiUsage,
  },
  hf: {
    allows: (method) => method === 'POST',
    describe: 'POST with a Hugging Face task payload (POST /endpoints/{name} reaches the server at /)',
    tokens: () => undefined,
  },
  tgi: {
    allows: (method, rest) =>
      (method === 'POST' && (rest === '' || rest === 'generate' || rest === 'generate_stream' || rest === 'tokenize' || rest.startsWith('v1/'))) ||
      (method === 'GET' && (rest === 'info' || rest === 'v1/models')),
    describe: 'POST /, /generate, /generate_stream, /tokenize, /v1/...; GET /info, /v1/models',
    tokens: tgiDetails,
  },
  raw: {
    allows: () => true,
    describe: 'every method and path',
    tokens: () => undefined,
  },
};

/**
 * What a target name on the command line means: a route on a modelhost server (`local`, a provider name,
 * `:fastest`, `:cheapest`, `endpoint:<name>`) or any URL speaking the Hugging Face or OpenAI API. Each resolves to
 * one URL, one body and the headers to send (the token among them, which is never printed or written).
 */
import type { Payload } from './payloads.ts';

export type Api = 'hf' | 'openai';
export type TargetKind = 'local' | 'provider' | 'policy' | 'endpoint' | 'url';

export interface ResolvedTarget {
  name: string;
  kind: TargetKind;
  url: string;
  api: Api;
  model?: string;
  stream: boolean;
  body: Buffer;
  /** Sent with every request; may hold the Authorization header: never print or store it. */
  headers: Record<string, string>;
  /** Environment variable the token came from, for the record. */
  tokenEnv?: string;
  /** The target is the modelhost server at the base URL (its /metrics prices the calls). */
  onModelhost: boolean;
}

export interface ResolveOptions {
  baseUrl: string;
  model?: string;
  task?: string;
  api?: Api;
  stream: boolean;
  payload: Payload;
  /** Extra headers from --header. */
  headers: Record<string, string>;
  /** --token-env: the variable holding the token for URL targets. */
  tokenEnv?: string;
  /** --use-cache: let Hugging Face API servers answer repeated payloads from their cache (off: `x-use-cache: false`). */
  useCache?: boolean;
  env: NodeJS.ProcessEnv;
}

const POLICIES = new Set(['fastest', 'cheapest', 'preferred']);
const OPENAI_PATH = /\/(chat\/completions|completions|embeddings)\/?$/;

function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '[::1]' || host.startsWith('127.');
}

/** `label=spec` names a target; a URL's own `=` (in its query) does not count. */
export function splitLabel(spec: string): { label?: string; spec: string } {
  const m = /^([\w.-]+)=(.+)$/.exec(spec);
  if (m && !/^[a-z]+:\/\//i.test(spec)) return { label: m[1], spec: m[2]! };
  return { spec };
}

function openAiPathFor(body: Record<string, unknown> | undefined): string {
  if (body && body.messages === undefined && body.prompt !== undefined) return '/v1/completions';
  if (body && body.messages === undefined && body.input !== undefined) return '/v1/embeddings';
  return '/v1/chat/completions';
}

/** Which API a modelhost route is spoken in, unless --api says: OpenAI for chat payloads and policies. */
function defaultApi(kind: TargetKind, o: ResolveOptions): Api {
  if (o.api) return o.api;
  if (kind === 'policy' || o.task === 'conversational') return 'openai';
  const j = o.payload.json;
  if (j && (j.messages !== undefined || (j.inputs === undefined && (j.prompt !== undefined || j.input !== undefined)))) return 'openai';
  return 'hf';
}

/** The body for one target: the shared payload with this target's `model` (OpenAI) and `stream`. */
/** The same payload N times would otherwise measure the server's answer cache, not the model. */
function noCache(headers: Record<string, string>, api: Api, o: ResolveOptions) {
  if (api === 'hf' && !o.useCache && headers['x-use-cache'] === undefined) headers['x-use-cache'] = 'false';
}

function bodyFor(o: ResolveOptions, api: Api, model: string | undefined): Buffer {
  const p = o.payload;
  if (!p.json) return p.bytes ?? Buffer.alloc(0);
  let json: Record<string, unknown> = { ...p.json };
  if (api === 'openai') {
    // A Hugging Face style text payload becomes one user message.
    if (json.messages === undefined && json.prompt === undefined && json.input === undefined && typeof json.inputs === 'string') {
      json = { messages: [{ role: 'user', content: json.inputs }], max_tokens: 64 };
    }
    if (model !== undefined) json.model = model;
  }
  if (o.stream) json.stream = true;
  return Buffer.from(JSON.stringify(json));
}

function needModel(o: ResolveOptions, what: string): string {
  if (!o.model) throw new Error(`${what} needs a model: pass --model <org/name> (GET /api/models on the server lists them)`);
  return o.model;
}

/** The token for a URL target: MODELHOST_TOKEN on the modelhost server itself, else HF_TOKEN or OPENAI_API_KEY by host and API. */
function tokenFor(url: URL, api: Api, base: URL, o: ResolveOptions): { env?: string; value?: string; required: boolean } {
  if (url.origin === base.origin) return { env: 'MODELHOST_TOKEN', value: o.env.MODELHOST_TOKEN, required: false };
  const host = url.hostname;
  const env = o.tokenEnv ?? (host.endsWith('huggingface.co') || host.endsWith('hf.co') ? 'HF_TOKEN' : api === 'openai' ? 'OPENAI_API_KEY' : 'HF_TOKEN');
  return { env, value: o.env[env] || undefined, required: !isLoopback(host) };
}

export function resolveTarget(raw: string, o: ResolveOptions): ResolvedTarget {
  const { label, spec } = splitLabel(raw.trim());
  const name = label ?? spec;
  let base: URL;
  try {
    base = new URL(o.baseUrl);
  } catch {
    throw new Error(`--base-url ${o.baseUrl} is not a URL (e.g. http://127.0.0.1:8080)`);
  }
  const baseUrl = base.origin + base.pathname.replace(/\/+$/, '');
  const headers: Record<string, string> = { ...o.headers };
  if (o.payload.json || o.payload.bytes) headers['content-type'] = o.payload.contentType;
  headers.accept = o.stream ? 'text/event-stream, application/json' : 'application/json, */*';

  let kind: TargetKind;
  let url: string;
  let api: Api;
  let model: string | undefined;
  if (/^https?:\/\//i.test(spec)) {
    kind = 'url';
    let parsed: URL;
    try {
      parsed = new URL(spec);
    } catch {
      throw new Error(`target ${spec} is not a valid URL`);
    }
    api = o.api ?? (OPENAI_PATH.test(parsed.pathname) ? 'openai' : 'hf');
    if (api === 'openai' && !OPENAI_PATH.test(parsed.pathname)) parsed.pathname = parsed.pathname.replace(/\/+$/, '') + openAiPathFor(o.payload.json).replace(/^\/v1/, '');
    url = parsed.toString();
    model = api === 'openai' ? o.model : undefined;
    if (api === 'openai' && !model && !o.payload.json?.model) throw new Error(`target ${name} speaks the OpenAI API and needs a model: pass --model <id>`);
    const token = tokenFor(parsed, api, base, o);
    if (token.required && !token.value) {
      throw new Error(
        `target ${name}: ${token.env} is not set. Export it (export ${token.env}=...), or name another variable with --token-env. The token is sent as a Bearer token and never printed.`,
      );
    }
    if (token.value) headers.authorization = `Bearer ${token.value}`;
    noCache(headers, api, o);
    return { name, kind, url, api, model, stream: o.stream, body: bodyFor(o, api, model ?? (o.payload.json?.model as string | undefined)), headers, tokenEnv: token.value ? token.env : undefined, onModelhost: parsed.origin === base.origin };
  }

  if (o.env.MODELHOST_TOKEN) headers.authorization = `Bearer ${o.env.MODELHOST_TOKEN}`;
  const tokenEnv = o.env.MODELHOST_TOKEN ? 'MODELHOST_TOKEN' : undefined;
  if (spec.startsWith('endpoint:')) {
    const endpoint = spec.slice('endpoint:'.length);
    if (!/^[\w.-]+$/.test(endpoint)) throw new Error(`target ${spec}: an endpoint name is letters, digits, ".", "_" and "-"`);
    kind = 'endpoint';
    api = defaultApi(kind, o);
    model = api === 'openai' ? (o.model ?? endpoint) : undefined;
    url = `${baseUrl}/endpoints/${endpoint}${api === 'openai' ? openAiPathFor(o.payload.json) : ''}`;
  } else if (spec.startsWith(':')) {
    const policy = spec.slice(1);
    if (!POLICIES.has(policy)) throw new Error(`target ${spec}: unknown policy; use :fastest, :cheapest or :preferred`);
    kind = 'policy';
    api = defaultApi(kind, o);
    if (api !== 'openai') throw new Error(`target ${spec}: policies are chosen through the OpenAI routes (model "<id>:${policy}"); drop --api hf`);
    model = `${needModel(o, `target ${spec}`)}:${policy}`;
    url = `${baseUrl}${openAiPathFor(o.payload.json)}`;
  } else if (/^[a-z0-9][a-z0-9-]*$/.test(spec)) {
    kind = spec === 'local' ? 'local' : 'provider';
    api = defaultApi(kind, o);
    const id = needModel(o, `target ${spec}`);
    if (api === 'openai') {
      model = `${id}:${spec}`;
      url = `${baseUrl}${openAiPathFor(o.payload.json)}`;
    } else {
      model = id;
      if (kind === 'local') {
        url = `${baseUrl}/models/${id}`;
        headers['x-provider'] = 'local';
      } else {
        url = `${baseUrl}/${spec}/models/${id}`;
      }
    }
  } else {
    throw new Error(
      `target "${spec}" is not one of: local, a provider name (lower-case, e.g. together), :fastest, :cheapest, endpoint:<name>, or an http(s) URL`,
    );
  }
  noCache(headers, api, o);
  return { name, kind, url, api, model, stream: o.stream, body: bodyFor(o, api, model), headers, tokenEnv, onModelhost: true };
}

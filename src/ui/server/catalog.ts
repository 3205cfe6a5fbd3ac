/**
 * What a Space page needs to know about a model: its task(s), state, examples (the card's `widget:` entries,
 * else task defaults), the card's `inference.parameters`, and the Gradio inputs/outputs its API advertises.
 * Shared by the HTML pages (embedded as bootstrap JSON) and the Gradio-compatible API.
 */
import type { FastifyRequest } from 'fastify';
import type { ModelInfo } from '../../core/model.ts';
import { readCard } from '../../engine/repository.ts';
import type { ServerDeps } from '../../server/deps.ts';
import { hasChatTemplate } from '../../chat/template-file.ts';
import { modelTasks } from '../../server/inference.ts';

/** Tasks with a page: every local task, plus chat for routed conversational models. */
export type SpaceTask =
  | 'text-classification'
  | 'token-classification'
  | 'zero-shot-classification'
  | 'fill-mask'
  | 'question-answering'
  | 'feature-extraction'
  | 'sentence-similarity'
  | 'text-generation'
  | 'text2text-generation'
  | 'summarization'
  | 'translation'
  | 'image-classification'
  | 'voice-activity-detection'
  | 'audio-classification'
  | 'object-detection'
  | 'image-segmentation'
  | 'depth-estimation'
  | 'zero-shot-image-classification'
  | 'image-to-text'
  | 'image-feature-extraction'
  | 'text-to-speech'
  | 'conversational';

/** One example, in the model card's `widget:` vocabulary (hub-docs models-widgets-examples.md). */
export interface SpaceExample {
  example_title: string;
  text?: string;
  context?: string;
  candidate_labels?: string;
  multi_class?: boolean;
  source_sentence?: string;
  sentences?: string[];
  /** Image or audio: a URL on this server (bundled samples) or a path inside the model folder. */
  src?: string;
  messages?: { role: string; content: string }[];
  parameters?: Record<string, unknown>;
}

export interface SpaceInfo {
  id: string;
  task: SpaceTask;
  /** Every task the model answers (an embedding model also does sentence-similarity). */
  tasks: SpaceTask[];
  runtime: string;
  state: string;
  libraryName: string;
  license?: string;
  sizeBytes: number;
  tags: string[];
  /** Served by hosted providers through the router rather than the local engine. */
  routed: boolean;
  /** Mask token for fill-mask models. */
  maskToken?: string;
  examples: SpaceExample[];
  /** Card `inference.parameters`, merged into every request. */
  parameters: Record<string, unknown>;
  /** Base URL as the caller sees it (honours X-Forwarded-*). */
  baseUrl: string;
}

const DEFAULTS: Record<SpaceTask, SpaceExample[]> = {
  'text-classification': [
    { example_title: 'Positive', text: 'I like you. I love you.' },
    { example_title: 'French', text: 'Le chat est assis sur le tapis.' },
  ],
  'token-classification': [{ example_title: 'People and places', text: 'My name is Sarah and I live in London' }],
  'zero-shot-classification': [
    { example_title: 'Support ticket', text: 'I have a problem with my iphone that needs to be resolved asap!!', candidate_labels: 'urgent, not urgent, phone, tablet, computer', multi_class: true },
  ],
  'fill-mask': [{ example_title: 'Capital', text: 'Paris is the [MASK] of France.' }],
  'question-answering': [
    { example_title: 'Where', text: 'Where do I live?', context: 'My name is Wolfgang and I live in Berlin' },
  ],
  'feature-extraction': [{ example_title: 'Sentence', text: 'Today is a sunny day and I will get some ice cream.' }],
  'text2text-generation': [{ example_title: 'Question', text: 'Answer the question: what is the capital of France?' }],
  summarization: [{ example_title: 'News', text: 'The tower is 324 metres tall, about the same height as an 81-storey building, and the tallest structure in Paris.' }],
  translation: [{ example_title: 'Greeting', text: 'My name is Sarah and I live in London.' }],
  'sentence-similarity': [
    { example_title: 'Happy', source_sentence: 'That is a happy person', sentences: ['That is a happy dog', 'That is a very happy person', 'Today is a sunny day'] },
  ],
  'text-generation': [{ example_title: 'Story', text: 'Once upon a time,' }],
  'image-classification': [{ example_title: 'Sample image', src: '/ui/samples/image.png' }],
  'voice-activity-detection': [{ example_title: 'Speech with a pause', src: '/ui/samples/speech.wav' }],
  'audio-classification': [{ example_title: 'Speech', src: '/ui/samples/speech.wav' }],
  'text-to-speech': [{ example_title: 'Greeting', text: 'Hello! This is modelhost speaking.' }],
  'object-detection': [{ example_title: 'Sample image', src: '/ui/samples/image.png' }],
  'image-segmentation': [{ example_title: 'Sample image', src: '/ui/samples/image.png' }],
  'depth-estimation': [{ example_title: 'Sample image', src: '/ui/samples/image.png' }],
  'zero-shot-image-classification': [{ example_title: 'Sample image', src: '/ui/samples/image.png', candidate_labels: 'cat, dog, car, landscape' }],
  'image-to-text': [{ example_title: 'Sample image', src: '/ui/samples/image.png' }],
  'image-feature-extraction': [{ example_title: 'Sample image', src: '/ui/samples/image.png' }],
  conversational: [
    { example_title: 'Hello', messages: [{ role: 'user', content: 'Hello! What can you do?' }] },
    { example_title: 'Haiku', messages: [{ role: 'user', content: 'Write a haiku about the sea.' }] },
  ],
};

/** Whether a page exists for this task (a routed model gets one only then). */
export function hasSpacePage(task: string): boolean {
  return task in DEFAULTS;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** The card's `widget:` list, reduced to the fields a page understands; bad entries are skipped, not fatal. */
export function cardExamples(card: Record<string, unknown>, modelId: string): SpaceExample[] {
  const widget = card.widget;
  if (!Array.isArray(widget)) return [];
  const out: SpaceExample[] = [];
  widget.forEach((w: unknown, i) => {
    if (!w || typeof w !== 'object') return;
    const e = w as Record<string, unknown>;
    const ex: SpaceExample = { example_title: str(e.example_title) ?? `Example ${i + 1}` };
    if (str(e.text) !== undefined) ex.text = str(e.text);
    if (str(e.context) !== undefined) ex.context = str(e.context);
    if (typeof e.candidate_labels === 'string') ex.candidate_labels = e.candidate_labels;
    else if (Array.isArray(e.candidate_labels)) ex.candidate_labels = e.candidate_labels.map(String).join(', ');
    if (typeof e.multi_class === 'boolean') ex.multi_class = e.multi_class;
    if (str(e.source_sentence) !== undefined) ex.source_sentence = str(e.source_sentence);
    if (Array.isArray(e.sentences)) ex.sentences = e.sentences.map(String);
    // Only local files or this server's samples: a page never fetches an example from elsewhere.
    const src = str(e.src);
    if (src && !/^[a-z]+:/i.test(src) && !src.includes('..')) ex.src = src.startsWith('/') ? src : `/spaces/${modelId}/resolve/${src}`;
    if (Array.isArray(e.messages)) ex.messages = e.messages.filter((m) => m && typeof m === 'object').map((m) => ({ role: String(m.role), content: String(m.content) }));
    if (e.parameters && typeof e.parameters === 'object') ex.parameters = e.parameters as Record<string, unknown>;
    if (Object.keys(ex).length > 1) out.push(ex);
  });
  return out;
}

/** The public base URL of this request: X-Forwarded-Proto/Host when a proxy sets them. */
export function baseUrlOf(request: FastifyRequest): string {
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v)?.split(',')[0]?.trim();
  const proto = first(request.headers['x-forwarded-proto']) ?? request.protocol;
  const host = first(request.headers['x-forwarded-host']) ?? request.headers.host ?? 'localhost';
  return `${proto === 'https' ? 'https' : 'http'}://${host}`;
}

function maskTokenOf(model: ModelInfo): string | undefined {
  if (model.pipelineTag !== 'fill-mask') return undefined;
  try {
    const card = readCard(model.dir);
    if (typeof card.mask_token === 'string') return card.mask_token;
  } catch {
    // fall through
  }
  return '[MASK]';
}

/** Every model that gets a page: local models and, when a router is configured, routed conversational models. */
export function listSpaces(deps: ServerDeps, baseUrl: string): SpaceInfo[] {
  const local = deps.repository.list().map((m) => localSpace(deps, m, baseUrl));
  const routed: SpaceInfo[] = [];
  for (const entry of deps.router?.file.models ?? []) {
    if (deps.repository.get(entry.id)) continue;
    const s = routedSpace(deps, entry.id, baseUrl);
    if (s) routed.push(s);
  }
  return [...local, ...routed].sort((a, b) => a.id.localeCompare(b.id));
}

export function findSpace(deps: ServerDeps, id: string, baseUrl: string): SpaceInfo | undefined {
  const model = deps.repository.get(id);
  if (model) return localSpace(deps, model, baseUrl);
  return routedSpace(deps, id, baseUrl);
}

function localSpace(deps: ServerDeps, model: ModelInfo, baseUrl: string): SpaceInfo {
  let card: Record<string, unknown> = {};
  try {
    card = readCard(model.dir);
  } catch {
    card = {};
  }
  // A text-generation model with a chat template gets a chat page (its raw text generation stays one click away).
  const chat = model.pipelineTag === 'text-generation' && hasChatTemplate(model.dir);
  const task = chat ? 'conversational' : (model.pipelineTag as SpaceTask);
  const fromCard = cardExamples(card, model.id);
  const inference = card.inference && typeof card.inference === 'object' ? (card.inference as Record<string, unknown>) : {};
  return {
    id: model.id,
    task,
    tasks: [...(chat ? (['conversational'] as SpaceTask[]) : []), ...(modelTasks(model) as SpaceTask[])],
    runtime: model.runtime,
    state: deps.engine.state(model.id),
    libraryName: model.libraryName,
    license: model.license,
    sizeBytes: model.sizeBytes,
    tags: model.tags,
    routed: false,
    maskToken: maskTokenOf(model),
    examples: fromCard.length > 0 ? fromCard : DEFAULTS[task] ?? [],
    parameters: inference.parameters && typeof inference.parameters === 'object' ? (inference.parameters as Record<string, unknown>) : {},
    baseUrl,
  };
}

/** Routed models get a page when their task has a widget: chat for conversational, the task page otherwise. */
function routedSpace(deps: ServerDeps, id: string, baseUrl: string): SpaceInfo | undefined {
  const entry = deps.router?.modelEntry(id);
  if (!entry) return undefined;
  const task = entry.task as SpaceTask;
  if (!hasSpacePage(task)) return undefined;
  return {
    id,
    task,
    tasks: [task],
    runtime: `router (${entry.providers.map((p) => p.provider).join(', ')})`,
    state: 'hosted',
    libraryName: '',
    sizeBytes: 0,
    tags: [],
    routed: true,
    examples: DEFAULTS[task] ?? [],
    parameters: {},
    baseUrl,
  };
}

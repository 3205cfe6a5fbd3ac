/**
 * The Gradio side of each task (research notes spaces.md section 7, "Gradio IO"): which components `/config`
 * and `/info` advertise for `/predict`, how the positional `data` list becomes an HF task request, and how the
 * HF answer becomes one value per output component (Label, HighlightedText, JSON, Textbox).
 */
import { InputError } from '../../core/errors.ts';
import type { SpaceTask } from './catalog.ts';

export interface GradioComponent {
  type: 'textbox' | 'label' | 'highlightedtext' | 'image' | 'audio' | 'json' | 'checkbox';
  label: string;
  /** Parameter name for keyword calls (inputs only). */
  name?: string;
  /** Default value for a keyword call that leaves it out (inputs only). */
  default?: unknown;
  example?: unknown;
}

export interface GradioIO {
  inputs: GradioComponent[];
  outputs: GradioComponent[];
  generator: boolean;
}

const text = (label: string, name: string, example: unknown): GradioComponent => ({ type: 'textbox', label, name, example });

export function gradioIO(task: SpaceTask): GradioIO | undefined {
  switch (task) {
    case 'text-classification':
    case 'fill-mask':
      return { inputs: [text('Input', 'text', task === 'fill-mask' ? 'Paris is the [MASK] of France.' : 'I like you. I love you.')], outputs: [{ type: 'label', label: 'Classification' }], generator: false };
    case 'token-classification':
      return { inputs: [text('Input', 'text', 'My name is Sarah and I live in London')], outputs: [{ type: 'highlightedtext', label: 'Entities' }], generator: false };
    case 'zero-shot-classification':
      return {
        inputs: [
          text('Input', 'text', 'I have a problem with my iphone'),
          text('Possible class names (comma-separated)', 'candidate_labels', 'urgent, not urgent'),
          { type: 'checkbox', label: 'Allow multiple true classes', name: 'multi_label', default: false, example: false },
        ],
        outputs: [{ type: 'label', label: 'Classification' }],
        generator: false,
      };
    case 'question-answering':
      return {
        inputs: [text('Question', 'question', 'Where do I live?'), text('Context', 'context', 'My name is Wolfgang and I live in Berlin')],
        outputs: [{ type: 'textbox', label: 'Answer' }, { type: 'label', label: 'Score' }],
        generator: false,
      };
    case 'feature-extraction':
      return { inputs: [text('Input', 'text', 'Today is a sunny day')], outputs: [{ type: 'json', label: 'Embedding' }], generator: false };
    case 'sentence-similarity':
      return {
        inputs: [text('Source sentence', 'source_sentence', 'That is a happy person'), text('Sentences to compare to (one per line)', 'sentences', 'That is a happy dog\nToday is a sunny day')],
        outputs: [{ type: 'label', label: 'Similarity' }],
        generator: false,
      };
    case 'text2text-generation':
    case 'summarization':
      return { inputs: [text('Input', 'text', 'My name is Sarah and I live in London.')], outputs: [{ type: 'textbox', label: 'Output' }], generator: false };
    case 'translation':
      return {
        inputs: [text('Input', 'text', 'My name is Sarah and I live in London.'), { type: 'textbox', label: 'Target language (tgt_lang)', name: 'tgt_lang', default: '', example: 'fr' }],
        outputs: [{ type: 'textbox', label: 'Translation' }],
        generator: false,
      };
    case 'text-generation':
      return { inputs: [text('Input', 'text', 'Once upon a time,')], outputs: [{ type: 'textbox', label: 'Output' }], generator: true };
    case 'image-classification':
      return { inputs: [{ type: 'image', label: 'Input image', name: 'image' }], outputs: [{ type: 'label', label: 'Classification' }], generator: false };
    case 'voice-activity-detection':
      return { inputs: [{ type: 'audio', label: 'Input audio', name: 'audio' }], outputs: [{ type: 'json', label: 'Speech segments' }], generator: false };
    case 'audio-classification':
      return { inputs: [{ type: 'audio', label: 'Input audio', name: 'audio' }], outputs: [{ type: 'label', label: 'Classification' }], generator: false };
    // One image in; zero-shot image classification has no Gradio endpoint (its labels would need a second input
    // that a file call cannot carry), its page and the HF routes serve it.
    case 'object-detection':
    case 'image-segmentation':
    case 'depth-estimation':
    case 'image-feature-extraction': {
      const label = { 'object-detection': 'Detected objects', 'image-segmentation': 'Segments', 'depth-estimation': 'Depth', 'image-feature-extraction': 'Features' }[task];
      return { inputs: [{ type: 'image', label: 'Input image', name: 'image' }], outputs: [{ type: 'json', label }], generator: false };
    }
    case 'image-to-text':
      return { inputs: [{ type: 'image', label: 'Input image', name: 'image' }], outputs: [{ type: 'textbox', label: 'Caption' }], generator: false };
    default:
      return undefined;
  }
}

/** What a Gradio call asks of the model, before the file bytes are looked up. */
export type TaskCall =
  | { kind: 'json'; body: { inputs: unknown; parameters: Record<string, unknown> } }
  | { kind: 'file'; ref: unknown };

function asText(v: unknown, label: string): string {
  if (typeof v !== 'string') throw new InputError(`${label}: expected a string, got ${v === null ? 'null' : typeof v}`);
  return v;
}

/** Positional Gradio `data` → HF request. */
export function toTaskCall(task: SpaceTask, data: unknown[], parameters: Record<string, unknown>): TaskCall {
  const io = gradioIO(task)!;
  if (data.length < io.inputs.length) {
    // Keyword defaults are filled by the client; a short list means a caller left a required value out.
    const missing = io.inputs.slice(data.length).filter((c) => c.default === undefined);
    if (missing.length > 0) throw new InputError(`data: expected ${io.inputs.length} values (${io.inputs.map((c) => c.label).join(', ')}), got ${data.length}`);
  }
  const p = { ...parameters };
  switch (task) {
    case 'zero-shot-classification':
      return {
        kind: 'json',
        body: { inputs: asText(data[0], 'Input'), parameters: { ...p, candidate_labels: asText(data[1], 'Possible class names'), multi_label: data[2] === true } },
      };
    case 'question-answering':
      return { kind: 'json', body: { inputs: { question: asText(data[0], 'Question'), context: asText(data[1], 'Context') }, parameters: p } };
    case 'sentence-similarity': {
      const sentences = asText(data[1], 'Sentences')
        .split('\n')
        .map((s) => s.trim())
        .filter(Boolean);
      return { kind: 'json', body: { inputs: { source_sentence: asText(data[0], 'Source sentence'), sentences }, parameters: p } };
    }
    case 'image-classification':
    case 'voice-activity-detection':
    case 'audio-classification':
    case 'object-detection':
    case 'image-segmentation':
    case 'depth-estimation':
    case 'image-feature-extraction':
    case 'image-to-text':
      return { kind: 'file', ref: data[0] };
    case 'translation': {
      const tgt = typeof data[1] === 'string' && data[1].trim() ? { tgt_lang: data[1].trim() } : {};
      return { kind: 'json', body: { inputs: asText(data[0], 'Input'), parameters: { ...p, ...tgt } } };
    }
    default:
      return { kind: 'json', body: { inputs: asText(data[0], 'Input'), parameters: p } };
  }
}

interface Scored {
  label: string;
  score: number;
}

function label(items: Scored[]) {
  const sorted = [...items].sort((a, b) => b.score - a.score);
  return { label: sorted[0]?.label ?? null, confidences: sorted.map((s) => ({ label: s.label, confidence: s.score })) };
}

/** HF answer → one value per output component. `input` is the Gradio data (for texts to highlight). */
export function toGradioOutputs(task: SpaceTask, answer: unknown, data: unknown[]): unknown[] {
  switch (task) {
    case 'text-classification':
    case 'image-classification':
    case 'audio-classification': {
      const list = (Array.isArray(answer) && Array.isArray(answer[0]) ? answer[0] : answer) as Scored[];
      return [label(list)];
    }
    case 'fill-mask': {
      // Several masks: one list per mask; the Label shows the first mask's.
      const all = answer as unknown[];
      const list = (Array.isArray(all[0]) ? all[0] : all) as { token_str: string; score: number }[];
      return [label(list.map((x) => ({ label: x.token_str, score: x.score })))];
    }
    case 'zero-shot-classification': {
      const a = answer as { labels: string[]; scores: number[] };
      return [label(a.labels.map((l, i) => ({ label: l, score: a.scores[i] ?? 0 })))];
    }
    case 'question-answering': {
      const a = answer as { answer: string; score: number };
      return [a.answer, label([{ label: a.answer, score: a.score }])];
    }
    case 'sentence-similarity': {
      const scores = answer as number[];
      const sentences = String(data[1] ?? '')
        .split('\n')
        .map((s) => s.trim())
        .filter(Boolean);
      return [label(sentences.map((s, i) => ({ label: s, score: scores[i] ?? 0 })))];
    }
    case 'token-classification': {
      const source = String(data[0] ?? '');
      const ents = [...(answer as { entity_group?: string; entity?: string; start?: number; end?: number }[])].sort((a, b) => (a.start ?? 0) - (b.start ?? 0));
      const out: { token: string; class_or_confidence: string | null }[] = [];
      let at = 0;
      for (const e of ents) {
        if (e.start === undefined || e.end === undefined || e.start < at) continue;
        if (e.start > at) out.push({ token: source.slice(at, e.start), class_or_confidence: null });
        out.push({ token: source.slice(e.start, e.end), class_or_confidence: e.entity_group ?? e.entity ?? null });
        at = e.end;
      }
      if (at < source.length) out.push({ token: source.slice(at), class_or_confidence: null });
      return [out];
    }
    case 'image-to-text':
      return [(answer as { generated_text: string }).generated_text];
    case 'text-generation': {
      const a = answer as { generated_text: string }[];
      return [a[0]?.generated_text ?? ''];
    }
    case 'text2text-generation':
    case 'summarization':
    case 'translation': {
      const first = (answer as Record<string, string>[])[0] ?? {};
      return [first.generated_text ?? first.summary_text ?? first.translation_text ?? ''];
    }
    default:
      return [answer];
  }
}

/** The JSON Schema and Python type a parameter or return advertises in `/info`. */
export function schemaOf(c: GradioComponent): { type: unknown; python_type: { type: string; description: string }; component: string } {
  const component = { textbox: 'Textbox', label: 'Label', highlightedtext: 'Highlightedtext', image: 'Image', audio: 'Audio', json: 'Json', checkbox: 'Checkbox' }[c.type];
  const file = {
    type: { $ref: '#/$defs/FileData' },
    python_type: { type: 'filepath', description: 'a file: handle_file(path or URL), a Blob or a Buffer' },
    component,
  };
  switch (c.type) {
    case 'textbox':
      return { type: { type: 'string' }, python_type: { type: 'str', description: '' }, component };
    case 'checkbox':
      return { type: { type: 'boolean' }, python_type: { type: 'bool', description: '' }, component };
    case 'image':
    case 'audio':
      return file;
    case 'label':
      return {
        type: { type: 'object', properties: { label: { type: 'string' }, confidences: { type: 'array' } } },
        python_type: { type: 'Dict(label: str | int | float | None, confidences: List[Dict(label: str | int | float | None, confidence: float | None)] | None)', description: '' },
        component,
      };
    case 'highlightedtext':
      return { type: { type: 'array' }, python_type: { type: 'List[Dict(token: str, class_or_confidence: str | float | None)]', description: '' }, component };
    default:
      return { type: {}, python_type: { type: 'Dict[Any, Any]', description: '' }, component };
  }
}

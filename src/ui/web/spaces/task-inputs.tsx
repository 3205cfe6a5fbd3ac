/** The form fields of each task (text, question and context, class names, sentences, image, audio, chat). */
import type { SpaceInfo, SpaceTask } from '../../server/catalog.ts';
import { AudioInput } from './audio-input.tsx';
import { ImageInput } from './image-input.tsx';
import type { ChatMessage, Inputs, Picked } from './inputs.ts';

export function TaskInputs(props: { task: SpaceTask; inputs: Inputs; set: (p: Partial<Inputs>) => void; file?: Picked; setFile: (f: Picked) => void; space: SpaceInfo; chat: ChatMessage[] }) {
  const { task, inputs, set } = props;
  const area = (label: string, key: 'text' | 'context', rows = 4, hint?: string) => (
    <label>
      {label}
      {hint && <span class="hint"> {hint}</span>}
      <textarea rows={rows} value={inputs[key]} onInput={(e) => set({ [key]: (e.target as HTMLTextAreaElement).value })} />
    </label>
  );
  switch (task) {
    case 'object-detection':
      return (
        <>
          <ImageInput file={props.file} onFile={props.setFile} />
          <label>
            Threshold (lowest score shown)
            <input type="number" min={0} max={1} step={0.05} value={inputs.threshold} onInput={(e) => set({ threshold: Math.min(1, Math.max(0, Number((e.target as HTMLInputElement).value) || 0)) })} />
          </label>
        </>
      );
    case 'image-classification':
    case 'image-segmentation':
    case 'depth-estimation':
    case 'image-to-text':
    case 'image-feature-extraction':
      return <ImageInput file={props.file} onFile={props.setFile} />;
    case 'zero-shot-image-classification':
      return (
        <>
          <ImageInput file={props.file} onFile={props.setFile} />
          <label>
            Possible labels (comma-separated)
            <input type="text" value={inputs.candidate_labels} onInput={(e) => set({ candidate_labels: (e.target as HTMLInputElement).value })} />
          </label>
        </>
      );
    case 'voice-activity-detection':
    case 'audio-classification':
      return <AudioInput file={props.file} onFile={props.setFile} />;
    case 'question-answering':
      return (
        <>
          <label>
            Question
            <input type="text" value={inputs.text} onInput={(e) => set({ text: (e.target as HTMLInputElement).value })} />
          </label>
          {area('Context', 'context', 6)}
        </>
      );
    case 'zero-shot-classification':
      return (
        <>
          {area('Text', 'text')}
          <label>
            Possible class names (comma-separated)
            <input type="text" value={inputs.candidate_labels} onInput={(e) => set({ candidate_labels: (e.target as HTMLInputElement).value })} />
          </label>
          <label class="inline">
            <input type="checkbox" checked={inputs.multi_class} onChange={(e) => set({ multi_class: (e.target as HTMLInputElement).checked })} /> Allow multiple true classes
          </label>
        </>
      );
    case 'sentence-similarity':
      return (
        <>
          <label>
            Source sentence
            <input type="text" value={inputs.source_sentence} onInput={(e) => set({ source_sentence: (e.target as HTMLInputElement).value })} />
          </label>
          <fieldset>
            <legend>Sentences to compare to</legend>
            {inputs.sentences.map((s, i) => (
              <label key={i}>
                <span class="sr-only">Sentence {i + 1}</span>
                <input
                  type="text"
                  value={s}
                  onInput={(e) => {
                    const next = [...inputs.sentences];
                    next[i] = (e.target as HTMLInputElement).value;
                    set({ sentences: next });
                  }}
                />
              </label>
            ))}
            <button type="button" onClick={() => set({ sentences: [...inputs.sentences, ''] })}>
              Add sentence
            </button>
          </fieldset>
        </>
      );
    case 'fill-mask':
      return area('Text', 'text', 4, `(mask token: ${props.space.maskToken ?? '[MASK]'})`);
    case 'feature-extraction':
      return (
        <label>
          Text
          <input type="text" value={inputs.text} onInput={(e) => set({ text: (e.target as HTMLInputElement).value })} />
        </label>
      );
    case 'text2text-generation':
    case 'summarization':
      return area('Text', 'text', 5);
    case 'translation':
      return (
        <>
          {area('Text', 'text', 5)}
          <label>
            Target language (tgt_lang, for models that translate into several)
            <input type="text" value={inputs.tgt_lang} onInput={(e) => set({ tgt_lang: (e.target as HTMLInputElement).value })} />
          </label>
        </>
      );
    case 'text-generation':
      return (
        <>
          {area('Prompt', 'text', 5)}
          <details>
            <summary>Parameters</summary>
            <label>
              Max new tokens
              <input type="number" min={1} max={512} value={inputs.max_new_tokens} onInput={(e) => set({ max_new_tokens: Number((e.target as HTMLInputElement).value) || 20 })} />
            </label>
            <label>
              Temperature
              <input type="number" min={0.05} max={5} step={0.05} value={inputs.temperature} onInput={(e) => set({ temperature: Number((e.target as HTMLInputElement).value) || 1 })} />
            </label>
            <label>
              Top-p
              <input type="number" min={0.05} max={1} step={0.05} value={inputs.top_p} onInput={(e) => set({ top_p: Number((e.target as HTMLInputElement).value) || 1 })} />
            </label>
          </details>
        </>
      );
    case 'conversational':
      return (
        <>
          <ol class="chat" aria-label="Conversation" data-testid="chat">
            {props.chat.map((m, i) => (
              <li key={i} class={`bubble ${m.role}`}>
                <span class="sr-only">{m.role === 'user' ? 'You' : 'Assistant'}: </span>
                {m.content}
              </li>
            ))}
          </ol>
          {props.chat.length === 0 && props.space.examples.length > 0 && <p class="muted">Pick an example above or type a message.</p>}
          <label>
            Message
            <textarea rows={2} value={inputs.text} onInput={(e) => set({ text: (e.target as HTMLTextAreaElement).value })} />
          </label>
        </>
      );
    default:
      return area('Text', 'text');
  }
}

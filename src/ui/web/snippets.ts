/** "Use via API" snippets with the real base URL, one set per task. */
import type { SpaceInfo, SpaceTask } from '../server/catalog.ts';

export interface Snippet {
  title: string;
  lang: string;
  code: string;
}

const CLIENT_METHOD: Partial<Record<SpaceTask, string>> = {
  'text-classification': 'textClassification',
  'token-classification': 'tokenClassification',
  'zero-shot-classification': 'zeroShotClassification',
  'fill-mask': 'fillMask',
  'question-answering': 'questionAnswering',
  'feature-extraction': 'featureExtraction',
  'sentence-similarity': 'sentenceSimilarity',
  'text-generation': 'textGeneration',
  summarization: 'summarization',
  translation: 'translation',
  'image-classification': 'imageClassification',
  'audio-classification': 'audioClassification',
  'text-to-speech': 'textToSpeech',
  'object-detection': 'objectDetection',
  'image-segmentation': 'imageSegmentation',
  'image-to-text': 'imageToText',
  'zero-shot-image-classification': 'zeroShotImageClassification',
};

/** The JSON body of the HF route for a task, built from the current inputs. */
export function hfBody(task: SpaceTask, v: { text: string; context: string; candidate_labels: string; multi_class: boolean; source_sentence: string; sentences: string[]; tgt_lang?: string }): Record<string, unknown> {
  switch (task) {
    case 'question-answering':
      return { inputs: { question: v.text, context: v.context } };
    case 'zero-shot-classification':
      return { inputs: v.text, parameters: { candidate_labels: v.candidate_labels, multi_label: v.multi_class } };
    case 'sentence-similarity':
      return { inputs: { source_sentence: v.source_sentence, sentences: v.sentences.filter(Boolean) } };
    case 'translation':
      return { inputs: v.text, ...(v.tgt_lang ? { parameters: { tgt_lang: v.tgt_lang } } : {}) };
    case 'zero-shot-image-classification':
      return { inputs: { image: '<base64 of input.png>' }, parameters: { candidate_labels: v.candidate_labels } };
    default:
      return { inputs: v.text };
  }
}

const AUDIO_FILE_TASKS: readonly SpaceTask[] = ['voice-activity-detection', 'audio-classification'];

/** The example file name's extension in a snippet: a WAV for audio tasks, a PNG for image ones. */
const fileExtension = (task: SpaceTask) => (AUDIO_FILE_TASKS.includes(task) ? 'wav' : 'png');

function gradioArgs(task: SpaceTask, v: Parameters<typeof hfBody>[1]): string {
  switch (task) {
    case 'question-answering':
      return JSON.stringify([v.text, v.context]);
    case 'zero-shot-classification':
      return JSON.stringify([v.text, v.candidate_labels, v.multi_class]);
    case 'sentence-similarity':
      return JSON.stringify([v.source_sentence, v.sentences.filter(Boolean).join('\n')]);
    case 'image-classification':
    case 'voice-activity-detection':
    case 'audio-classification':
    case 'object-detection':
    case 'image-segmentation':
    case 'depth-estimation':
    case 'image-to-text':
    case 'image-feature-extraction':
      return `[handle_file("./input.${fileExtension(task)}")]`;
    default:
      return JSON.stringify([v.text]);
  }
}

export function snippets(space: SpaceInfo, task: SpaceTask, v: Parameters<typeof hfBody>[1]): Snippet[] {
  const base = space.baseUrl;
  const url = `${base}/models/${space.id}`;
  const auth = ` \\\n  -H "Authorization: Bearer $MODELHOST_TOKEN"`;
  const out: Snippet[] = [];
  const binary = task !== 'zero-shot-image-classification' && (AUDIO_FILE_TASKS.includes(task) || task.startsWith('image-') || task === 'object-detection' || task === 'depth-estimation');
  if (task === 'conversational') {
    out.push({
      title: 'curl (OpenAI chat API)',
      lang: 'bash',
      code: `curl ${base}/v1/chat/completions${auth} \\\n  -H 'Content-Type: application/json' \\\n  -d '${JSON.stringify({ model: space.id, messages: [{ role: 'user', content: v.text || 'Hello!' }], stream: false })}'`,
    });
    out.push({
      title: 'openai (JavaScript)',
      lang: 'js',
      code: `import OpenAI from 'openai';\nconst openai = new OpenAI({ baseURL: '${base}/v1', apiKey: process.env.MODELHOST_TOKEN ?? 'unused' });\nconst answer = await openai.chat.completions.create({\n  model: '${space.id}',\n  messages: [{ role: 'user', content: ${JSON.stringify(v.text || 'Hello!')} }],\n});\nconsole.log(answer.choices[0].message.content);`,
    });
    return out;
  }
  const body = hfBody(task, v);
  const path = space.tasks.length > 1 && task !== space.task ? `${base}/pipeline/${task}/${space.id}` : url;
  out.push({
    title: 'curl (Hugging Face Inference API)',
    lang: 'bash',
    code: binary
      ? `curl -X POST ${path}${auth} \\\n  --data-binary @input.${fileExtension(task)}`
      : `curl -X POST ${path}${auth} \\\n  -H 'Content-Type: application/json' \\\n  -d '${JSON.stringify(task === 'text-generation' ? { ...body, parameters: { max_new_tokens: 20 } } : body).replace(/'/g, "'\\''")}'${task === 'text-to-speech' ? ' \\\n  -o speech.wav' : ''}`,
  });
  const method = CLIENT_METHOD[task];
  if (method) {
    const args = binary ? `data: await (await import('node:fs/promises')).readFile('input.${fileExtension(task)}')` : `inputs: ${JSON.stringify(body.inputs)}${body.parameters ? `,\n  parameters: ${JSON.stringify(body.parameters)}` : ''}`;
    out.push({
      title: '@huggingface/inference',
      lang: 'js',
      code: `import { InferenceClient } from '@huggingface/inference';\nconst client = new InferenceClient(process.env.MODELHOST_TOKEN ?? 'unused');\nconst answer = await client.${method}({\n  endpointUrl: '${path}',\n  ${args},\n});\nconsole.log(answer);`,
    });
  }
  if (task === 'text-generation') {
    out.push({
      title: 'openai (completions)',
      lang: 'js',
      code: `import OpenAI from 'openai';\nconst openai = new OpenAI({ baseURL: '${base}/v1', apiKey: process.env.MODELHOST_TOKEN ?? 'unused' });\nconst answer = await openai.completions.create({ model: '${space.id}', prompt: ${JSON.stringify(v.text)}, max_tokens: 20 });\nconsole.log(answer.choices[0].text);`,
    });
  }
  if (task === 'feature-extraction') {
    out.push({
      title: 'openai (embeddings)',
      lang: 'js',
      code: `import OpenAI from 'openai';\nconst openai = new OpenAI({ baseURL: '${base}/v1', apiKey: process.env.MODELHOST_TOKEN ?? 'unused' });\nconst answer = await openai.embeddings.create({ model: '${space.id}', input: ${JSON.stringify(v.text)} });\nconsole.log(answer.data[0].embedding.length);`,
    });
  }
  if (task === 'text-to-speech') {
    out.push({
      title: 'openai (speech)',
      lang: 'js',
      code: `import OpenAI from 'openai';\nimport { writeFile } from 'node:fs/promises';\nconst openai = new OpenAI({ baseURL: '${base}/v1', apiKey: process.env.MODELHOST_TOKEN ?? 'unused' });\nconst speech = await openai.audio.speech.create({ model: '${space.id}', voice: 'alloy', input: ${JSON.stringify(v.text)}, response_format: 'wav' });\nawait writeFile('speech.wav', Buffer.from(await speech.arrayBuffer()));`,
    });
  }
  const apiName = task === space.task ? 'predict' : task.replace(/-/g, '_');
  // Zero-shot image classification and text-to-speech have no Gradio endpoint (see gradio-io.ts).
  if (!space.routed && task !== 'zero-shot-image-classification' && task !== 'text-to-speech') {
    out.push({
      title: '@gradio/client',
      lang: 'js',
      code: `import { Client${binary ? ', handle_file' : ''} } from '@gradio/client';\nconst app = await Client.connect('${base}/spaces/${space.id}'${'/* , { token: process.env.MODELHOST_TOKEN } */'});\nconst result = await app.predict('/${apiName}', ${gradioArgs(task, v)});\nconsole.log(result.data);`,
    });
    out.push({
      title: 'curl (Gradio call API)',
      lang: 'bash',
      code: binary
        ? `# upload first, then pass the returned path\ncurl -s -F files=@input.${fileExtension(task)} ${base}/spaces/${space.id}/gradio_api/upload${auth}`
        : `EVENT_ID=$(curl -s -X POST ${base}/spaces/${space.id}/gradio_api/call/${apiName}${auth} \\\n  -H 'Content-Type: application/json' -d '{"data": ${gradioArgs(task, v).replace(/'/g, "'\\''")}}' | sed 's/.*"event_id":"\\([^"]*\\)".*/\\1/')\ncurl -N ${base}/spaces/${space.id}/gradio_api/call/${apiName}/$EVENT_ID${auth}`,
    });
  }
  return out;
}

/**
 * The ways a model can be run from this server, as the Hub's "Deploy" and "Use this model" menus list them
 * (seed 004): one source of truth for the model info route (`modelhost.usage`) and the model page. A way this
 * model or this server cannot offer is never listed as broken: it goes into `absent` with the one line that
 * says why.
 */
import type { HubRepoInfo, ModelInfo } from '../core/model.ts';
import type { ModelEntry } from '../router/config.ts';
import { hasSpacePage } from '../ui/server/catalog.ts';
import type { ServerDeps } from './deps.ts';
import { modelTasks } from './inference.ts';

export type WayMenu = 'deploy' | 'use';

export interface Way {
  /** Stable id: serverless, openai-completions, dedicated, space, library, pull, huggingface_hub, transformers. */
  method: string;
  menu: WayMenu;
  title: string;
  url?: string;
  snippet?: string;
  tasks?: string[];
  /** Inference API: who serves the calls (`local` is this server's engine). */
  providers?: string[];
  library?: string;
  /** Dedicated endpoint: a call of the created endpoint, with `{url}` standing for its URL. */
  call?: string;
}

export interface AbsentWay {
  method: string;
  menu: WayMenu;
  title: string;
  reason: string;
}

export interface ModelWays {
  usage: Way[];
  absent: AbsentWay[];
}

/** What is known of a model id here: a runnable model, a repository this server only stores, a routed model. */
export interface WaySubject {
  id: string;
  model?: ModelInfo;
  /** A repository whose files this server serves (runnable or not). */
  repo?: HubRepoInfo;
  /** Why a stored repository cannot run. */
  unrunnable?: string;
  /** The card's `pipeline_tag` of a stored repository that cannot run (for its Python snippet). */
  task?: string;
  routed?: ModelEntry;
}

const BINARY_TASKS: Record<string, string> = { 'image-classification': 'png', 'voice-activity-detection': 'wav' };

/** Example input per task, for the usage snippets. */
export function exampleBody(task: string | undefined): string {
  switch (task) {
    case 'question-answering':
      return '{"inputs": {"question": "Where do I live?", "context": "My name is Sarah and I live in London."}}';
    case 'sentence-similarity':
      return '{"inputs": {"source_sentence": "That is a happy person", "sentences": ["That is a happy dog", "Today is a sunny day"]}}';
    case 'zero-shot-classification':
      return '{"inputs": "I have a problem with my iphone", "parameters": {"candidate_labels": ["urgent", "not urgent"]}}';
    case 'fill-mask':
      return '{"inputs": "The capital of France is [MASK]."}';
    case 'conversational':
      return '{"model": "<model>", "messages": [{"role": "user", "content": "Hello!"}]}';
    default:
      return '{"inputs": "Bonjour tout le monde, comment allez-vous ?"}';
  }
}

/** A POST of the task's example to `url` (a chat model's URL ends in /v1/chat/completions). */
function curl(url: string, task: string | undefined, id: string): string {
  const ext = task ? BINARY_TASKS[task] : undefined;
  if (ext) return `curl -X POST ${url} --data-binary @file.${ext}`;
  return `curl -X POST ${url} -H 'Content-Type: application/json' -d '${exampleBody(task).replace('<model>', id)}'`;
}

/** The Python input of a pipeline call, for the transformers snippet. */
function pythonInput(task: string | undefined): string {
  if (task === 'question-answering') return 'question="Where do I live?", context="My name is Sarah and I live in London."';
  if (task === 'fill-mask') return '"The capital of France is [MASK]."';
  if (task && BINARY_TASKS[task]) return `"file.${BINARY_TASKS[task]}"`;
  return '"Bonjour tout le monde, comment allez-vous ?"';
}

/** The same input for a transformers.js pipeline. */
function jsInput(task: string | undefined): string {
  if (task === 'question-answering') return "'Where do I live?', 'My name is Sarah and I live in London.'";
  return pythonInput(task).replace(/"/g, "'");
}

const hasTorchWeights = (files: string[]) => files.some((f) => /(^|\/)(model|pytorch_model)(-\d+-of-\d+)?\.(safetensors|bin)$/.test(f) || /\.safetensors\.index\.json$/.test(f));

export function modelWays(deps: Pick<ServerDeps, 'router' | 'endpoints' | 'endpointsAt' | 'endpointsElsewhere' | 'hub'>, s: WaySubject, baseUrl: string): ModelWays {
  const usage: Way[] = [];
  const absent: AbsentWay[] = [];
  const { id, model, repo, routed } = s;
  const task: string | undefined = model?.pipelineTag ?? routed?.task ?? s.task;
  const hosted = routed?.providers.map((p) => p.provider).filter((p) => p !== 'local') ?? [];
  const onlyHosted = !repo && routed ? `served only by hosted providers (${hosted.join(', ')})` : undefined;
  const runs = model !== undefined || routed !== undefined;
  const cannotRun = `this server cannot run it (${s.unrunnable ?? 'not a model it runs'})`;

  // Deploy: the Inference API here, a dedicated endpoint, the Space.
  if (runs) {
    const chat = task === 'conversational';
    const url = chat ? `${baseUrl}/v1/chat/completions` : `${baseUrl}/models/${id}`;
    const providers = routed ? routed.providers.map((p) => p.provider) : ['local'];
    usage.push({ method: 'serverless', menu: 'deploy', title: 'Inference API', url, tasks: model ? modelTasks(model) : task ? [task] : [], providers, snippet: curl(url, task, id) });
    if (task === 'text-generation') usage.push({ method: 'openai-completions', menu: 'deploy', title: 'OpenAI-compatible completions', url: `${baseUrl}/v1/completions` });
    if (deps.endpoints || deps.endpointsAt) {
      usage.push({
        method: 'dedicated',
        menu: 'deploy',
        title: 'Dedicated endpoint',
        url: `${baseUrl}/api/endpoints/{namespace}`,
        snippet: `modelhost endpoints create my-endpoint --model ${id} --url ${baseUrl} --wait`,
        call: curl(chat ? '{url}/v1/chat/completions' : '{url}', task, id),
      });
    } else {
      const why = deps.endpointsElsewhere ?? 'this server runs without dedicated endpoints';
      absent.push({ method: 'dedicated', menu: 'deploy', title: 'Dedicated endpoint', reason: `No dedicated endpoint: ${why.replace(/\.$/, '')}.` });
    }
    if (model || (task && hasSpacePage(task))) usage.push({ method: 'space', menu: 'deploy', title: 'Space', url: `${baseUrl}/spaces/${id}` });
    else absent.push({ method: 'space', menu: 'deploy', title: 'Space', reason: `No Space: this server has no try-it page for the ${task} task of a hosted model.` });
  } else {
    for (const [method, title] of [['serverless', 'Inference API'], ['dedicated', 'Dedicated endpoint'], ['space', 'Space']] as const) {
      absent.push({ method, menu: 'deploy', title, reason: `No ${title}: ${cannotRun}.` });
    }
  }

  // Use this model: transformers.js here, or the files downloaded through this server as a Hub.
  if (model?.runtime === 'transformers') {
    const pipelineTask = task === 'sentence-similarity' ? 'feature-extraction' : task;
    const dtype = model.files.includes('onnx/model.onnx') ? 'fp32' : 'q8';
    const source = deps.hub
      ? `// This server is a Hub: transformers.js downloads the files from it.\nenv.remoteHost = '${baseUrl}/';`
      : `// The model folder, copied next to your code.\nenv.localModelPath = '<models folder>';`;
    usage.push({
      method: 'library',
      menu: 'use',
      title: 'Transformers.js',
      library: 'transformers.js',
      snippet: `import { pipeline, env } from '@huggingface/transformers';\n${source}\nconst pipe = await pipeline('${pipelineTask}', '${id}', { dtype: '${dtype}' });\nconsole.log(await pipe(${jsInput(task)}));`,
    });
  } else {
    const why = onlyHosted ? `this model is ${onlyHosted}; it has no local weights` : model ? `this model runs on modelhost's ${model.runtime} runtime, which transformers.js cannot load` : cannotRun;
    absent.push({ method: 'library', menu: 'use', title: 'Transformers.js', reason: `No transformers.js snippet: ${why}.` });
  }

  const files = repo?.files ?? [];
  // Why the files cannot be downloaded from here, if they cannot.
  const noFiles = onlyHosted ? `this server has none of its files; it is ${onlyHosted}` : !deps.hub ? 'this server does not serve the Hub file API' : files.length === 0 ? 'this repository has no files' : undefined;
  if (!noFiles) {
    usage.push({ method: 'pull', menu: 'use', title: 'modelhost pull', snippet: `modelhost pull ${id} --endpoint ${baseUrl}` });
    usage.push({
      method: 'huggingface_hub',
      menu: 'use',
      title: 'huggingface_hub (Python)',
      library: 'huggingface_hub',
      snippet: `import os\nos.environ["HF_ENDPOINT"] = "${baseUrl}"  # before importing huggingface_hub\nfrom huggingface_hub import snapshot_download\n\nfolder = snapshot_download("${id}")\nprint(folder)`,
    });
  } else {
    absent.push({ method: 'pull', menu: 'use', title: 'modelhost pull', reason: `No modelhost pull or huggingface_hub download: ${noFiles}.` });
  }
  if (!noFiles && hasTorchWeights(files)) {
    const call = task ? `pipe = pipeline("${task}", model="${id}")\nprint(pipe(${pythonInput(task)}))` : `model = AutoModel.from_pretrained("${id}")`;
    usage.push({
      method: 'transformers',
      menu: 'use',
      title: 'Transformers (Python)',
      library: 'transformers',
      snippet: `import os\nos.environ["HF_ENDPOINT"] = "${baseUrl}"  # before importing transformers\nfrom transformers import ${task ? 'pipeline' : 'AutoModel'}\n\n${call}`,
    });
  } else {
    const why = noFiles ?? 'this repository has no PyTorch or safetensors weights, which Python transformers loads (its weights are ONNX or another format)';
    absent.push({ method: 'transformers', menu: 'use', title: 'Transformers (Python)', reason: `No transformers (Python) snippet: ${why}.` });
  }
  return { usage, absent };
}

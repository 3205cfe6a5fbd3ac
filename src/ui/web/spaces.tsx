/** Spaces: the gallery (`/spaces`) and a page per model (`/spaces/{org}/{name}`), generated from the task. */
import { render } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { SpaceExample, SpaceInfo, SpaceTask } from '../server/catalog.ts';
import { HttpError, authHeaders, bootstrap, copy, errorText, fmt, readJson, readSse, saveToken, savedToken } from './lib.ts';
import { Answer, Entities, ScoreTable, Segments, Vector, type Entity, type Scored } from './outputs.tsx';
import { hfBody, snippets } from './snippets.ts';
import './style.css';

type GallerySpace = SpaceInfo & { latency: { p50: number | null; p95: number | null; samples: number } | null };
type Boot = { view: 'gallery'; spaces: GallerySpace[] } | { view: 'space'; space: SpaceInfo; embed: boolean } | { view: 'missing'; id: string };

const TASK_NAMES: Record<SpaceTask, string> = {
  'text-classification': 'Text classification',
  'token-classification': 'Token classification',
  'zero-shot-classification': 'Zero-shot classification',
  'fill-mask': 'Fill mask',
  'question-answering': 'Question answering',
  'feature-extraction': 'Feature extraction',
  'sentence-similarity': 'Sentence similarity',
  'text-generation': 'Text generation',
  'image-classification': 'Image classification',
  'voice-activity-detection': 'Voice activity detection',
  conversational: 'Chat',
};

const STATE_NAMES: Record<string, string> = { ready: 'Loaded', loading: 'Loading', unloaded: 'Cold', hosted: 'Hosted' };

function Header({ children }: { children?: preact.ComponentChildren }) {
  return (
    <header class="top">
      <a class="brand" href="/spaces">
        modelhost <span class="muted">Spaces</span>
      </a>
      <nav aria-label="Site">
        <a href="/spaces">All models</a>
        {children}
      </nav>
    </header>
  );
}

// --- Gallery -------------------------------------------------------------------------------------------------

function Gallery({ spaces }: { spaces: GallerySpace[] }) {
  const params = new URLSearchParams(location.search);
  const [task, setTask] = useState(params.get('task') ?? '');
  const [q, setQ] = useState(params.get('q') ?? '');
  useEffect(() => {
    const p = new URLSearchParams();
    if (task) p.set('task', task);
    if (q) p.set('q', q);
    history.replaceState(null, '', p.toString() ? `?${p}` : location.pathname);
  }, [task, q]);
  const tasks = [...new Set(spaces.map((s) => s.task))].sort();
  const shown = spaces.filter((s) => (!task || s.tasks.includes(task as SpaceTask)) && (!q || s.id.toLowerCase().includes(q.toLowerCase())));
  return (
    <>
      <Header />
      <main id="main">
        <h1>Spaces</h1>
        <p class="lead">Every model this server hosts, with a page to try it and the code to call it.</p>
        <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
          <label>
            Task
            <select value={task} onChange={(e) => setTask((e.target as HTMLSelectElement).value)}>
              <option value="">All tasks</option>
              {tasks.map((t) => (
                <option key={t} value={t}>
                  {TASK_NAMES[t] ?? t}
                </option>
              ))}
            </select>
          </label>
          <label>
            Search
            <input type="search" value={q} onInput={(e) => setQ((e.target as HTMLInputElement).value)} placeholder="model name" />
          </label>
        </form>
        <p role="status" class="muted">
          {shown.length} of {spaces.length} models
        </p>
        <ul class="cards">
          {shown.map((s) => (
            <li key={s.id} class="card">
              <h2>
                <a href={`/spaces/${s.id}`}>{s.id}</a>
              </h2>
              <p>
                <span class="chip">{TASK_NAMES[s.task] ?? s.task}</span> <span class={`state s-${s.state}`}>{STATE_NAMES[s.state] ?? s.state}</span>
              </p>
              <p class="muted">
                {s.runtime}
                {s.latency?.p50 != null ? ` · P50 ${fmt.ms(s.latency.p50)}` : ''}
              </p>
              <a class="button" href={`/spaces/${s.id}`} aria-label={`Try it: ${s.id}`}>
                Try it
              </a>
            </li>
          ))}
        </ul>
      </main>
    </>
  );
}

// --- Inputs --------------------------------------------------------------------------------------------------

interface Inputs {
  text: string;
  context: string;
  candidate_labels: string;
  multi_class: boolean;
  source_sentence: string;
  sentences: string[];
  max_new_tokens: number;
  temperature: number;
  top_p: number;
}

const EMPTY: Inputs = { text: '', context: '', candidate_labels: '', multi_class: false, source_sentence: '', sentences: ['', ''], max_new_tokens: 20, temperature: 1, top_p: 1 };

function fromUrl(): Partial<Inputs> {
  const p = new URLSearchParams(location.search);
  const out: Partial<Inputs> = {};
  for (const k of ['text', 'context', 'candidate_labels', 'source_sentence'] as const) {
    const v = p.get(k);
    if (v !== null) out[k] = v;
  }
  if (p.get('multi_class') !== null) out.multi_class = p.get('multi_class') === 'true';
  if (p.getAll('sentences').length) out.sentences = p.getAll('sentences');
  return out;
}

function fromExample(e: SpaceExample): Partial<Inputs> {
  const out: Partial<Inputs> = {};
  if (e.text !== undefined) out.text = e.text;
  if (e.context !== undefined) out.context = e.context;
  if (e.candidate_labels !== undefined) out.candidate_labels = e.candidate_labels;
  if (e.multi_class !== undefined) out.multi_class = e.multi_class;
  if (e.source_sentence !== undefined) out.source_sentence = e.source_sentence;
  if (e.sentences) out.sentences = [...e.sentences];
  if (e.messages?.length) out.text = e.messages[e.messages.length - 1]!.content;
  return out;
}

interface Picked {
  blob: Blob;
  name: string;
  url: string;
}

function ImageInput({ file, onFile }: { file?: Picked; onFile: (f: Picked) => void }) {
  const [over, setOver] = useState(false);
  const take = (f: File | Blob | null | undefined, name = 'image') => {
    if (f && f.type.startsWith('image/')) onFile({ blob: f, name: (f as File).name ?? name, url: URL.createObjectURL(f) });
  };
  useEffect(() => {
    const paste = (e: ClipboardEvent) => {
      const item = [...(e.clipboardData?.items ?? [])].find((i) => i.type.startsWith('image/'));
      if (item) take(item.getAsFile(), 'pasted-image');
    };
    document.addEventListener('paste', paste);
    return () => document.removeEventListener('paste', paste);
  }, []);
  return (
    <fieldset class="file">
      <legend>Image</legend>
      <div
        class={`drop ${over ? 'over' : ''}`}
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          e.preventDefault();
          setOver(false);
          take(e.dataTransfer?.files[0]);
        }}
      >
        {file ? <img src={file.url} alt={`Selected image: ${file.name}`} class="preview" /> : <p class="muted desktop-only">Drop an image here, paste one, or</p>}
        <label class="button">
          Choose image
          <input class="visually-hidden-file" type="file" accept="image/*" onChange={(e) => take((e.target as HTMLInputElement).files?.[0])} />
        </label>{' '}
        <label class="button mobile-only">
          Take a photo
          <input class="visually-hidden-file" type="file" accept="image/*" capture="environment" onChange={(e) => take((e.target as HTMLInputElement).files?.[0])} />
        </label>
      </div>
    </fieldset>
  );
}

/** Records from the microphone to 16-bit WAV (what the server decodes), releasing the microphone on stop. */
function useRecorder(onDone: (wav: Blob) => void) {
  const [recording, setRecording] = useState(false);
  const [error, setError] = useState('');
  const stopRef = useRef<() => void>(undefined);
  const start = async () => {
    setError('');
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (e) {
      const name = (e as DOMException).name;
      setError(name === 'NotAllowedError' ? 'Microphone permission was refused: allow it in the browser, or choose a file.' : name === 'NotFoundError' ? 'No microphone was found: choose a file instead.' : `The microphone could not start (${name}).`);
      return;
    }
    const ctx = new AudioContext();
    const source = ctx.createMediaStreamSource(stream);
    const node = ctx.createScriptProcessor(4096, 1, 1);
    const chunks: Float32Array[] = [];
    node.onaudioprocess = (e) => chunks.push(new Float32Array(e.inputBuffer.getChannelData(0)));
    source.connect(node);
    node.connect(ctx.destination);
    setRecording(true);
    stopRef.current = () => {
      node.disconnect();
      source.disconnect();
      for (const t of stream.getTracks()) t.stop();
      const rate = ctx.sampleRate;
      void ctx.close();
      setRecording(false);
      onDone(encodeWav(chunks, rate));
    };
  };
  return { recording, error, start, stop: () => stopRef.current?.() };
}

function encodeWav(chunks: Float32Array[], rate: number): Blob {
  const n = chunks.reduce((s, c) => s + c.length, 0);
  const buf = new ArrayBuffer(44 + n * 2);
  const v = new DataView(buf);
  const str = (o: number, s: string) => [...s].forEach((c, i) => v.setUint8(o + i, c.charCodeAt(0)));
  str(0, 'RIFF');
  v.setUint32(4, 36 + n * 2, true);
  str(8, 'WAVE');
  str(12, 'fmt ');
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true);
  v.setUint16(22, 1, true);
  v.setUint32(24, rate, true);
  v.setUint32(28, rate * 2, true);
  v.setUint16(32, 2, true);
  v.setUint16(34, 16, true);
  str(36, 'data');
  v.setUint32(40, n * 2, true);
  let o = 44;
  for (const c of chunks)
    for (const s of c) {
      v.setInt16(o, Math.max(-1, Math.min(1, s)) * 0x7fff, true);
      o += 2;
    }
  return new Blob([buf], { type: 'audio/wav' });
}

function AudioInput({ file, onFile }: { file?: Picked; onFile: (f: Picked) => void }) {
  const rec = useRecorder((wav) => onFile({ blob: wav, name: 'recording.wav', url: URL.createObjectURL(wav) }));
  return (
    <fieldset class="file">
      <legend>Audio</legend>
      <label class="button">
        Choose audio file
        <input
          class="visually-hidden-file"
          type="file"
          accept="audio/*"
          onChange={(e) => {
            const f = (e.target as HTMLInputElement).files?.[0];
            if (f) onFile({ blob: f, name: f.name, url: URL.createObjectURL(f) });
          }}
        />
      </label>{' '}
      <button type="button" class={rec.recording ? 'recording' : ''} aria-pressed={rec.recording} onClick={() => (rec.recording ? rec.stop() : void rec.start())}>
        {rec.recording ? 'Stop recording' : 'Record from microphone'}
      </button>
      {rec.error && (
        <p role="alert" class="error">
          {rec.error}
        </p>
      )}
      {file && (
        <p>
          <audio controls src={file.url} aria-label={`Selected audio: ${file.name}`} />
          <span class="muted"> {file.name}</span>
        </p>
      )}
    </fieldset>
  );
}

// --- Running -------------------------------------------------------------------------------------------------

function LoadingBar({ seconds }: { seconds: number }) {
  const [pct, setPct] = useState(0);
  useEffect(() => {
    const started = Date.now();
    const t = setInterval(() => setPct(Math.min(96, ((Date.now() - started) / 1000 / Math.max(seconds, 0.5)) * 100)), 500);
    return () => clearInterval(t);
  }, [seconds]);
  return (
    <div class="loading" data-testid="loading">
      <p>Model is loading (about {seconds.toFixed(1)} s); your request is held and runs as soon as it is ready.</p>
      <div class="progress" role="progressbar" aria-label="Model loading" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(pct)}>
        <span style={{ width: `${pct}%` }} />
      </div>
    </div>
  );
}

interface RunResult {
  json: unknown;
  computeTime: string | null;
  cached: boolean;
  task: SpaceTask;
  inputs: Inputs;
  duration?: number;
}

interface ChatMessage {
  role: 'user' | 'assistant';
  content: string;
}

function modelUrl(space: SpaceInfo, task: SpaceTask): string {
  return task === space.task ? `/models/${space.id}` : `/pipeline/${task}/${space.id}`;
}

/**
 * One call with the widgets' cold-start flow: first without waiting; on a 503 with `estimated_time` show the
 * loading bar and send it again held (`x-wait-for-model: true`) until the model is ready.
 */
async function callModel(url: string, body: BodyInit, type: string, signal: AbortSignal, onLoading: (s: number | undefined) => void): Promise<Response> {
  const send = (wait: boolean) => fetch(url, { method: 'POST', body, signal, headers: { 'content-type': type, 'x-wait-for-model': String(wait), ...authHeaders() } });
  let res = await send(false);
  if (res.status === 503) {
    const b = (await readJson(res.clone())) as { estimated_time?: number } | undefined;
    if (b && typeof b.estimated_time === 'number') {
      onLoading(b.estimated_time);
      try {
        res = await send(true);
      } finally {
        onLoading(undefined);
      }
    }
  }
  return res;
}

function SpacePage({ space, embed }: { space: SpaceInfo; embed: boolean }) {
  const url0 = new URLSearchParams(location.search);
  const [task, setTask] = useState<SpaceTask>(space.tasks.includes(url0.get('task') as SpaceTask) ? (url0.get('task') as SpaceTask) : space.task);
  const [view, setView] = useState<'app' | 'api'>(url0.get('view') === 'api' ? 'api' : 'app');
  const [inputs, setInputs] = useState<Inputs>(() => {
    const fromQuery = fromUrl();
    const first = space.examples.find((e) => e.text !== undefined || e.source_sentence !== undefined);
    return { ...EMPTY, ...(Object.keys(fromQuery).length ? {} : first && task !== 'conversational' ? fromExample(first) : {}), ...fromQuery };
  });
  const [file, setFile] = useState<Picked>();
  const [duration, setDuration] = useState(0);
  const [busy, setBusy] = useState(false);
  const [loadingFor, setLoadingFor] = useState<number>();
  const [error, setError] = useState('');
  const [needToken, setNeedToken] = useState(false);
  const [result, setResult] = useState<RunResult>();
  const [generated, setGenerated] = useState<{ prompt: string; text: string } | undefined>();
  const [chat, setChat] = useState<ChatMessage[]>([]);
  const [state, setState] = useState(space.state);
  const [showJson, setShowJson] = useState(false);
  const [note, setNote] = useState('');
  const abort = useRef<AbortController>(undefined);
  const formRef = useRef<HTMLFormElement>(null);

  const set = (patch: Partial<Inputs>) => setInputs((v) => ({ ...v, ...patch }));

  // Inputs live in the URL, so a link shares them.
  useEffect(() => {
    const p = new URLSearchParams();
    if (task !== space.task) p.set('task', task);
    if (view === 'api') p.set('view', 'api');
    if (!embed) {
      if (['question-answering', 'zero-shot-classification', 'text-classification', 'token-classification', 'fill-mask', 'feature-extraction', 'text-generation', 'conversational'].includes(task) && inputs.text) p.set('text', inputs.text);
      if (task === 'question-answering' && inputs.context) p.set('context', inputs.context);
      if (task === 'zero-shot-classification') {
        if (inputs.candidate_labels) p.set('candidate_labels', inputs.candidate_labels);
        if (inputs.multi_class) p.set('multi_class', 'true');
      }
      if (task === 'sentence-similarity') {
        if (inputs.source_sentence) p.set('source_sentence', inputs.source_sentence);
        for (const s of inputs.sentences.filter(Boolean)) p.append('sentences', s);
      }
    } else p.set('embed', '1');
    const q = p.toString();
    history.replaceState(null, '', q ? `${location.pathname}?${q}` : location.pathname);
  }, [inputs, task, view]);

  // An embedded page tells its parent how tall it is.
  useEffect(() => {
    if (!embed || window.parent === window) return;
    const ro = new ResizeObserver(() => window.parent.postMessage({ type: 'modelhost:resize', height: document.documentElement.scrollHeight }, '*'));
    ro.observe(document.body);
    return () => ro.disconnect();
  }, []);

  // The model's state, refreshed while the page is open (the catalogue route is open and cheap).
  useEffect(() => {
    if (space.routed) return;
    const t = setInterval(async () => {
      try {
        const m = (await (await fetch(`/api/models/${space.id}`)).json()) as { modelhost?: { state?: string } };
        if (m.modelhost?.state) setState(m.modelhost.state);
      } catch {
        // offline for a moment: keep the last state
      }
    }, 5000);
    return () => clearInterval(t);
  }, []);

  useEffect(() => {
    if (!file || task !== 'voice-activity-detection') return;
    const a = new Audio(file.url);
    a.onloadedmetadata = () => setDuration(Number.isFinite(a.duration) ? a.duration : 0);
  }, [file]);

  const pickExample = async (i: number) => {
    const e = space.examples[i];
    if (!e) return;
    setResult(undefined);
    setGenerated(undefined);
    setError('');
    set(fromExample(e));
    if (e.src) {
      try {
        const res = await fetch(e.src);
        const blob = await res.blob();
        setFile({ blob, name: e.src.split('/').pop() ?? 'example', url: URL.createObjectURL(blob) });
      } catch {
        setError(`The example file ${e.src} could not be loaded.`);
      }
    }
    if (e.messages?.length) set({ text: e.messages[e.messages.length - 1]!.content });
  };

  const fail = (e: unknown) => {
    if ((e as Error).name === 'AbortError') {
      setNote('Stopped.');
      return;
    }
    if (e instanceof HttpError && e.status === 401) setNeedToken(true);
    setError((e as Error).message || String(e));
  };

  const run = async () => {
    if (busy) return;
    setError('');
    setNote('');
    setResult(undefined);
    const ctrl = new AbortController();
    abort.current = ctrl;
    setBusy(true);
    const started = performance.now();
    try {
      if (task === 'conversational') return await runChat(ctrl);
      let body: BodyInit;
      let type = 'application/json';
      if (task === 'image-classification' || task === 'voice-activity-detection') {
        if (!file) throw new Error(`Choose ${task === 'image-classification' ? 'an image' : 'an audio file or record one'} first.`);
        body = file.blob;
        type = file.blob.type || 'application/octet-stream';
      } else {
        const b = { ...hfBody(task, inputs) };
        b.parameters = { ...space.parameters, ...(b.parameters as object) };
        if (task === 'text-generation') {
          b.parameters = { ...(b.parameters as object), max_new_tokens: inputs.max_new_tokens, ...(inputs.temperature !== 1 ? { temperature: inputs.temperature, do_sample: true } : {}), ...(inputs.top_p !== 1 ? { top_p: inputs.top_p } : {}) };
          b.stream = true;
        }
        body = JSON.stringify(b);
      }
      const res = await callModel(modelUrl(space, task), body, type, ctrl.signal, setLoadingFor);
      if (!res.ok) {
        const eb = await readJson(res);
        throw new HttpError(res.status, errorText(eb, res.status), eb);
      }
      setState('ready');
      const computeTime = res.headers.get('x-compute-time');
      const cached = res.headers.get('x-cache') === 'HIT';
      if (task === 'text-generation') {
        const prompt = inputs.text;
        let text = '';
        let final: unknown;
        setGenerated({ prompt, text: '' });
        await readSse(res, (d) => {
          const ev = d as { token?: { text: string; special?: boolean }; generated_text?: string | null; error?: string };
          if (ev.error) throw new Error(ev.error);
          if (ev.token && !ev.token.special) text += ev.token.text;
          if (typeof ev.generated_text === 'string') final = [{ generated_text: ev.generated_text }];
          setGenerated({ prompt, text });
        });
        setResult({ json: final ?? [{ generated_text: prompt + text }], computeTime: ((performance.now() - started) / 1000).toFixed(3), cached: false, task, inputs });
      } else {
        setResult({ json: await res.json(), computeTime, cached, task, inputs: { ...inputs }, duration });
      }
    } catch (e) {
      fail(e);
    } finally {
      setBusy(false);
      setLoadingFor(undefined);
    }
  };

  const runChat = async (ctrl: AbortController) => {
    const messages: ChatMessage[] = [...chat, { role: 'user', content: inputs.text }];
    setChat([...messages, { role: 'assistant', content: '' }]);
    set({ text: '' });
    try {
      const res = await fetch('/v1/chat/completions', {
        method: 'POST',
        signal: ctrl.signal,
        headers: { 'content-type': 'application/json', ...authHeaders() },
        body: JSON.stringify({ model: space.id, messages, stream: true }),
      });
      if (!res.ok) {
        const eb = await readJson(res);
        throw new HttpError(res.status, errorText(eb, res.status), eb);
      }
      let text = '';
      await readSse(res, (d) => {
        if (d === '[DONE]') return;
        const delta = (d as { choices?: { delta?: { content?: string } }[] }).choices?.[0]?.delta?.content;
        if (delta) text += delta;
        setChat([...messages, { role: 'assistant', content: text }]);
      });
      setResult({ json: { messages: [...messages, { role: 'assistant', content: text }] }, computeTime: null, cached: false, task, inputs });
    } catch (e) {
      // Keep roles alternating: the unanswered question goes back into the composer.
      if ((e as Error).name !== 'AbortError') {
        setChat(chat);
        set({ text: inputs.text });
      }
      fail(e);
    } finally {
      setBusy(false);
    }
  };

  const io = { text: inputs.text, context: inputs.context, candidate_labels: inputs.candidate_labels, multi_class: inputs.multi_class, source_sentence: inputs.source_sentence, sentences: inputs.sentences };
  const snips = useMemo(() => snippets(space, task, io), [task, inputs]);
  const pageUrl = `${space.baseUrl}/spaces/${space.id}`;
  const embedCode = `<iframe src="${pageUrl}?embed=1" title="${space.id} on modelhost" width="100%" height="520" style="border:0"></iframe>\n<script>\n  addEventListener('message', (e) => {\n    if (e.origin === '${space.baseUrl}' && e.data?.type === 'modelhost:resize')\n      document.querySelector('iframe[src^="${pageUrl}"]').height = e.data.height;\n  });\n</script>`;

  const onKey = (e: KeyboardEvent) => {
    if (e.key === 'Enter' && (e.metaKey || e.ctrlKey)) {
      e.preventDefault();
      void run();
    }
  };

  return (
    <>
      {!embed && (
        <Header>
          <a href="/admin">Console</a>
        </Header>
      )}
      <main id="main" class="space">
        <div class="title">
          <h1>{space.id}</h1>
          <p>
            <span class="chip">{TASK_NAMES[task] ?? task}</span>{' '}
            <span class={`state s-${state}`} role="status" aria-live="polite">
              {STATE_NAMES[state] ?? state}
            </span>{' '}
            <span class="muted">
              {space.runtime}
              {space.sizeBytes ? ` · ${fmt.bytes(space.sizeBytes)}` : ''}
              {space.license ? ` · ${space.license}` : ''}
            </span>
          </p>
        </div>
        {!embed && (
          <nav class="tabs" aria-label="Views">
            <a href="?" aria-current={view === 'app' ? 'page' : undefined} onClick={(e) => (e.preventDefault(), setView('app'))}>
              App
            </a>
            <a href="?view=api" aria-current={view === 'api' ? 'page' : undefined} onClick={(e) => (e.preventDefault(), setView('api'))}>
              Use via API
            </a>
          </nav>
        )}
        {space.tasks.length > 1 && (
          <p>
            <label>
              Task{' '}
              <select value={task} onChange={(e) => (setTask((e.target as HTMLSelectElement).value as SpaceTask), setResult(undefined))}>
                {space.tasks.map((t) => (
                  <option key={t} value={t}>
                    {TASK_NAMES[t] ?? t}
                  </option>
                ))}
              </select>
            </label>
          </p>
        )}
        {view === 'api' ? (
          <section aria-labelledby="api-h">
            <h2 id="api-h">Use via API</h2>
            <p>Base URL: <code>{space.baseUrl}</code>. Where tokens are on, set <code>MODELHOST_TOKEN</code> to a token with the inference scope.</p>
            {snips.map((s) => (
              <Code key={s.title} title={s.title} code={s.code} />
            ))}
            <h2>Embed this page</h2>
            <Code title="HTML" code={embedCode} />
          </section>
        ) : (
          <div class="columns">
            <form
              ref={formRef}
              class="inputs"
              aria-labelledby="in-h"
              onSubmit={(e) => {
                e.preventDefault();
                void run();
              }}
              onKeyDown={onKey}
            >
              <h2 id="in-h">Input</h2>
              {space.examples.length > 0 && (
                <label>
                  Examples
                  <select
                    data-testid="examples"
                    onChange={(e) => {
                      const i = Number((e.target as HTMLSelectElement).value);
                      if (i >= 0) void pickExample(i);
                    }}
                  >
                    <option value="-1">Pick an example…</option>
                    {space.examples.map((e, i) => (
                      <option key={i} value={i}>
                        {e.example_title}
                      </option>
                    ))}
                  </select>
                </label>
              )}
              <TaskInputs task={task} inputs={inputs} set={set} file={file} setFile={setFile} space={space} chat={chat} />
              <div class="actions">
                <button type="submit" class="primary" disabled={busy}>
                  {task === 'conversational' ? 'Send' : 'Compute'}
                </button>
                {(task === 'text-generation' || task === 'conversational') && (
                  <button type="button" disabled={!busy} onClick={() => abort.current?.abort()}>
                    Stop
                  </button>
                )}
                {task === 'conversational' && (
                  <button type="button" onClick={() => (setChat([]), setResult(undefined))}>
                    Reset
                  </button>
                )}
                <span class="hint desktop-only">Ctrl+Enter / ⌘+Enter runs</span>
              </div>
              {needToken && <TokenBox onSave={() => (setNeedToken(false), setError(''))} />}
            </form>
            <section class="outputs" aria-labelledby="out-h">
              <h2 id="out-h">Output</h2>
              <div aria-live="polite" data-testid="output">
                {busy && loadingFor === undefined && <p class="muted">Running…</p>}
                {loadingFor !== undefined && <LoadingBar seconds={loadingFor} />}
                {error && (
                  <p role="alert" class="error" data-testid="error">
                    {error}
                  </p>
                )}
                {note && <p class="muted">{note}</p>}
                {task === 'text-generation' && generated && (
                  <p class="generation" data-testid="generation">
                    {generated.prompt}
                    <span class="gen">{generated.text}</span>
                  </p>
                )}
                {result && result.task === task && <TaskOutput result={result} file={file} />}
              </div>
              {result && (
                <p class="muted" data-testid="compute-time">
                  {result.cached ? 'Computation time: cached' : result.computeTime ? `Computation time on cpu: ${Number(result.computeTime).toFixed(3)} s` : ''}
                </p>
              )}
              {result && (
                <div>
                  <label class="inline">
                    <input type="checkbox" checked={showJson} onChange={(e) => setShowJson((e.target as HTMLInputElement).checked)} /> JSON output
                  </label>
                  {showJson && <pre class="json" data-testid="json" tabIndex={0} aria-label="JSON output">{JSON.stringify(result.json, null, 2)}</pre>}
                </div>
              )}
              {!embed && (
                <p>
                  <button type="button" onClick={async () => setNote((await copy(location.href)) ? 'Link copied: it carries the inputs.' : location.href)}>
                    Copy link to these inputs
                  </button>
                </p>
              )}
            </section>
          </div>
        )}
      </main>
      {!embed && (
        <footer class="foot">
          <p class="muted">Served by this modelhost instance; what you type is sent only to it.</p>
        </footer>
      )}
    </>
  );
}

function Code({ title, code }: { title: string; code: string }) {
  const [done, setDone] = useState(false);
  return (
    <figure class="code">
      <figcaption>
        {title}{' '}
        <button type="button" aria-label={`Copy ${title}`} onClick={async () => setDone(await copy(code))}>
          Copy
        </button>
        <span role="status">{done ? ' Copied.' : ''}</span>
      </figcaption>
      <pre tabIndex={0} aria-label={title}>
        <code>{code}</code>
      </pre>
    </figure>
  );
}

function TokenBox({ onSave }: { onSave: () => void }) {
  const [v, setV] = useState(savedToken());
  return (
    <div class="token">
      <label>
        This server needs a token. Paste one with the inference scope (kept in this tab only, sent only to this server):
        <input type="password" autocomplete="off" value={v} onInput={(e) => setV((e.target as HTMLInputElement).value)} />
      </label>
      <button type="button" onClick={() => (saveToken(v.trim()), onSave())}>
        Use token
      </button>
    </div>
  );
}

function TaskInputs(props: { task: SpaceTask; inputs: Inputs; set: (p: Partial<Inputs>) => void; file?: Picked; setFile: (f: Picked) => void; space: SpaceInfo; chat: ChatMessage[] }) {
  const { task, inputs, set } = props;
  const area = (label: string, key: 'text' | 'context', rows = 4, hint?: string) => (
    <label>
      {label}
      {hint && <span class="hint"> {hint}</span>}
      <textarea rows={rows} value={inputs[key]} onInput={(e) => set({ [key]: (e.target as HTMLTextAreaElement).value })} />
    </label>
  );
  switch (task) {
    case 'image-classification':
      return <ImageInput file={props.file} onFile={props.setFile} />;
    case 'voice-activity-detection':
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

function TaskOutput({ result, file }: { result: RunResult; file?: Picked }) {
  const j = result.json;
  switch (result.task) {
    case 'text-classification':
    case 'image-classification': {
      const rows = (Array.isArray(j) && Array.isArray(j[0]) ? j[0] : j) as Scored[];
      return (
        <>
          {result.task === 'image-classification' && file && <img class="preview small" src={file.url} alt="The classified image" />}
          <ScoreTable rows={rows} caption="Predicted labels" />
        </>
      );
    }
    case 'fill-mask': {
      const rows = j as { token_str: string; score: number; sequence: string }[];
      return (
        <>
          {rows[0] && (
            <p data-testid="filled">
              Best: <strong>{rows[0].sequence}</strong>
            </p>
          )}
          <ScoreTable rows={rows.map((r) => ({ label: r.token_str, score: r.score }))} caption="Filled tokens" labelHeader="Token" />
        </>
      );
    }
    case 'zero-shot-classification': {
      const a = j as { labels: string[]; scores: number[] };
      return <ScoreTable rows={a.labels.map((l, i) => ({ label: l, score: a.scores[i] ?? 0 }))} caption="Class scores" labelHeader="Class" />;
    }
    case 'sentence-similarity': {
      const s = result.inputs.sentences.filter(Boolean);
      return <ScoreTable rows={(j as number[]).map((v, i) => ({ label: s[i] ?? `Sentence ${i + 1}`, score: v }))} caption="Similarity to the source sentence" labelHeader="Sentence" />;
    }
    case 'token-classification':
      return <Entities text={result.inputs.text} entities={j as Entity[]} />;
    case 'question-answering':
      return <Answer context={result.inputs.context} answer={j as { answer: string; score: number; start: number; end: number }} />;
    case 'feature-extraction': {
      const flat = (Array.isArray(j) && Array.isArray(j[0]) ? (j as number[][])[0] : j) as number[];
      return <Vector values={flat} />;
    }
    case 'voice-activity-detection':
      return <Segments segments={j as { start: number; end: number; score: number }[]} duration={result.duration ?? 0} />;
    default:
      return null;
  }
}

function Missing({ id }: { id: string }) {
  return (
    <>
      <Header />
      <main id="main">
        <h1>No model {id}</h1>
        <p>
          This server hosts no model with that id. <a href="/spaces">See every hosted model</a>.
        </p>
      </main>
    </>
  );
}

function App() {
  const b = bootstrap<Boot>();
  if (b.view === 'gallery') return <Gallery spaces={b.spaces} />;
  if (b.view === 'space') return <SpacePage space={b.space} embed={b.embed} />;
  return <Missing id={b.id} />;
}

const root = document.getElementById('app')!;
root.textContent = '';
render(<App />, root);

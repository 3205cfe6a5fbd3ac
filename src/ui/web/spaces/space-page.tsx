/**
 * A model's page (`/spaces/{org}/{name}`, `?embed=1` inside an iframe): the task's inputs, a run with the
 * cold-start flow and streaming, the output, and the "Use via API" view. Inputs live in the URL so a link
 * shares them.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { SpaceInfo, SpaceTask } from '../../server/catalog.ts';
import { HttpError, authHeaders, errorText, fmt, readJson, readSse } from '../lib.ts';
import type { SpeechAnswer } from '../outputs.tsx';
import { hfBody } from '../snippets.ts';
import { ApiView } from './api-view.tsx';
import { callModel, modelUrl, type RunResult } from './call.ts';
import { Header } from './header.tsx';
import { AUDIO_TASKS, EMPTY, IMAGE_TASKS, dataUrlOf, fromExample, fromUrl, sendsRawFile, type ChatMessage, type Inputs, type Picked } from './inputs.ts';
import { STATE_NAMES, TASK_NAMES } from './names.ts';
import { OutputPanel } from './output-panel.tsx';
import { TaskInputs } from './task-inputs.tsx';
import { TokenBox } from './token-box.tsx';

export function SpacePage({ space, embed }: { space: SpaceInfo; embed: boolean }) {
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
      if (['question-answering', 'zero-shot-classification', 'text-classification', 'token-classification', 'fill-mask', 'feature-extraction', 'text-generation', 'text2text-generation', 'summarization', 'translation', 'conversational'].includes(task) && inputs.text) p.set('text', inputs.text);
      if (task === 'translation' && inputs.tgt_lang) p.set('tgt_lang', inputs.tgt_lang);
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
      if (AUDIO_TASKS.includes(task) || IMAGE_TASKS.includes(task)) {
        if (!file) throw new Error(`Choose ${AUDIO_TASKS.includes(task) ? 'an audio file or record one' : 'an image'} first.`);
      }
      if (file && sendsRawFile(task)) {
        body = file.blob;
        type = file.blob.type || 'application/octet-stream';
      } else if (file && task === 'zero-shot-image-classification') {
        // Labels travel as parameters, so the image goes as base64 JSON (as @huggingface/inference sends it).
        body = JSON.stringify({ inputs: { image: await dataUrlOf(file.blob) }, parameters: { ...space.parameters, candidate_labels: inputs.candidate_labels } });
      } else if (file && task === 'object-detection') {
        body = JSON.stringify({ inputs: await dataUrlOf(file.blob), parameters: { ...space.parameters, threshold: inputs.threshold } });
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
      } else if (task === 'text-to-speech') {
        // The answer is the audio file itself: the player gets an object URL of its bytes.
        const blob = await res.blob();
        const seconds = Number(res.headers.get('x-audio-seconds'));
        const speech: SpeechAnswer = { url: URL.createObjectURL(blob), type: blob.type, bytes: blob.size, seconds: Number.isFinite(seconds) && seconds > 0 ? seconds : null };
        setResult({ json: speech, computeTime, cached, task, inputs: { ...inputs } });
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
            <a href={`/${space.id}`}>Model card, files, deploy</a>
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
          <ApiView space={space} task={task} inputs={inputs} />
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
            <OutputPanel
              task={task}
              embed={embed}
              busy={busy}
              loadingFor={loadingFor}
              error={error}
              note={note}
              setNote={setNote}
              generated={generated}
              result={result}
              file={file}
              showJson={showJson}
              setShowJson={setShowJson}
            />
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

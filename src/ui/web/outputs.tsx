/** Output views per task. Every chart-like view is a real table (bars are decoration, `aria-hidden`). */
import { useState } from 'preact/hooks';
import { colourIndex, copy, fmt } from './lib.ts';

export interface Scored {
  label: string;
  score: number;
}

/** Scores as a table with a bar per row (the Hub's bar list, readable as a table). */
export function ScoreTable({ rows, caption, labelHeader = 'Label' }: { rows: Scored[]; caption: string; labelHeader?: string }) {
  const top = Math.max(...rows.map((r) => r.score), 1e-9);
  return (
    <table class="scores" data-testid="scores">
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">{labelHeader}</th>
          <th scope="col" class="barcol">
            <span class="sr-only">Bar</span>
          </th>
          <th scope="col" class="num">
            Score
          </th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r, i) => (
          <tr key={`${r.label}-${i}`} class={i === 0 ? 'best' : ''}>
            <th scope="row">{r.label}</th>
            <td class="barcol" aria-hidden="true">
              <span class="bar" style={{ width: `${Math.max(1, (r.score / top) * 100)}%` }} />
            </td>
            <td class="num">{fmt.score(r.score)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export interface Entity {
  entity_group?: string;
  entity?: string;
  word: string;
  score: number;
  start?: number;
  end?: number;
}

/** The input text with each entity highlighted and followed by a text badge; a legend and a table toggle. */
export function Entities({ text, entities }: { text: string; entities: Entity[] }) {
  const [asTable, setAsTable] = useState(false);
  const sorted = [...entities].sort((a, b) => (a.start ?? 0) - (b.start ?? 0));
  const parts: preact.ComponentChildren[] = [];
  let at = 0;
  sorted.forEach((e, i) => {
    let start = e.start;
    let end = e.end;
    if (start === undefined || end === undefined) {
      const found = text.toLowerCase().indexOf(e.word.toLowerCase(), at);
      if (found < 0) return;
      start = found;
      end = found + e.word.length;
    }
    if (start < at) return;
    const name = e.entity_group ?? e.entity ?? '?';
    if (start > at) parts.push(text.slice(at, start));
    parts.push(
      <mark key={i} class={`ent c${colourIndex(name)}`}>
        {text.slice(start, end)}
        <span class="badge">{name}</span>
      </mark>,
    );
    at = end;
  });
  if (at < text.length) parts.push(text.slice(at));
  const names = [...new Set(sorted.map((e) => e.entity_group ?? e.entity ?? '?'))];
  if (entities.length === 0) return <p class="warn">No entity was detected.</p>;
  return (
    <div>
      <p class="entities" data-testid="entities">
        {parts}
      </p>
      <p class="legend">
        <span class="sr-only">Entity types: </span>
        {names.map((n) => (
          <span key={n} class={`badge c${colourIndex(n)}`}>
            {n}
          </span>
        ))}
      </p>
      <label class="inline">
        <input type="checkbox" checked={asTable} onChange={(e) => setAsTable((e.target as HTMLInputElement).checked)} /> Show as a table
      </label>
      {asTable && (
        <table>
          <caption>Entities</caption>
          <thead>
            <tr>
              <th scope="col">Entity</th>
              <th scope="col">Word</th>
              <th scope="col" class="num">Score</th>
              <th scope="col">Start–end</th>
            </tr>
          </thead>
          <tbody>
            {sorted.map((e, i) => (
              <tr key={i}>
                <td>{e.entity_group ?? e.entity}</td>
                <td>{e.word}</td>
                <td class="num">{fmt.score(e.score)}</td>
                <td>
                  {e.start ?? '?'}–{e.end ?? '?'}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

/** The answer highlighted inside its context, with its score. */
export function Answer({ context, answer }: { context: string; answer: { answer: string; score: number; start: number; end: number } }) {
  const ok = answer.start >= 0 && answer.end <= context.length && answer.end > answer.start;
  return (
    <div>
      <p class="answer" data-testid="answer">
        Answer: <strong>{answer.answer}</strong> <span class="muted">score {fmt.score(answer.score)}</span>
      </p>
      {ok && (
        <blockquote class="context">
          {context.slice(0, answer.start)}
          <mark class="hl">{context.slice(answer.start, answer.end)}</mark>
          {context.slice(answer.end)}
        </blockquote>
      )}
    </div>
  );
}

/** An embedding: its length, the first 16 values as a table, a heat strip, and copy as JSON. */
export function Vector({ values }: { values: number[] }) {
  const [copied, setCopied] = useState(false);
  const max = Math.max(...values.map((v) => Math.abs(v)), 1e-9);
  return (
    <div data-testid="vector">
      <p>
        A vector of <strong>{values.length}</strong> values.{' '}
        <button type="button" onClick={async () => setCopied(await copy(JSON.stringify(values)))}>
          Copy as JSON
        </button>{' '}
        <span role="status">{copied ? 'Copied.' : ''}</span>
      </p>
      <div class="strip" aria-hidden="true">
        {values.slice(0, 128).map((v, i) => (
          <span key={i} style={{ background: v >= 0 ? `rgba(220,80,40,${Math.abs(v) / max})` : `rgba(40,100,220,${Math.abs(v) / max})` }} />
        ))}
      </div>
      <table class="compact">
        <caption>First {Math.min(16, values.length)} values</caption>
        <thead>
          <tr>
            <th scope="col">Index</th>
            <th scope="col" class="num">
              Value
            </th>
          </tr>
        </thead>
        <tbody>
          {values.slice(0, 16).map((v, i) => (
            <tr key={i}>
              <td>{i}</td>
              <td class="num">{v.toFixed(4)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export interface Segment {
  start: number;
  end: number;
  score?: number;
}

/** Speech segments on a timeline over the clip, plus the segment table. */
export function Segments({ segments, duration }: { segments: Segment[]; duration: number }) {
  const total = Math.max(duration, ...segments.map((s) => s.end), 0.001);
  return (
    <div data-testid="segments">
      <div class="timeline" aria-hidden="true">
        {segments.map((s, i) => (
          <span key={i} class="seg" style={{ left: `${(s.start / total) * 100}%`, width: `${Math.max(0.5, ((s.end - s.start) / total) * 100)}%` }} />
        ))}
      </div>
      <p class="muted" aria-hidden="true">
        0 s — {total.toFixed(2)} s
      </p>
      {segments.length === 0 ? (
        <p class="warn">No speech was detected.</p>
      ) : (
        <table>
          <caption>Speech segments</caption>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col" class="num">Start (s)</th>
              <th scope="col" class="num">End (s)</th>
              <th scope="col" class="num">Length (s)</th>
              <th scope="col" class="num">Score</th>
            </tr>
          </thead>
          <tbody>
            {segments.map((s, i) => (
              <tr key={i}>
                <td>{i + 1}</td>
                <td class="num">{s.start.toFixed(2)}</td>
                <td class="num">{s.end.toFixed(2)}</td>
                <td class="num">{(s.end - s.start).toFixed(2)}</td>
                <td class="num">{s.score === undefined ? '–' : fmt.score(s.score)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

/** A text-to-speech answer: the audio file the route sent, as an object URL the page made from its bytes. */
export interface SpeechAnswer {
  url: string;
  type: string;
  bytes: number;
  seconds: number | null;
}

/** The synthesised audio with the browser's own player, and the file to keep. */
export function SpeechAudio({ speech }: { speech: SpeechAnswer }) {
  const ext = speech.type.includes('flac') ? 'flac' : speech.type.includes('mpeg') ? 'mp3' : 'wav';
  return (
    <div class="speech" data-testid="speech">
      <audio controls src={speech.url} aria-label="The synthesised speech" data-testid="speech-audio" />
      <p class="hint">
        {speech.seconds !== null && `${speech.seconds.toFixed(2)} s, `}
        {(speech.bytes / 1024).toFixed(1)} KB {speech.type}.{' '}
        <a href={speech.url} download={`speech.${ext}`}>
          Download
        </a>
      </p>
    </div>
  );
}

/** The gallery (`/spaces`): every hosted model as a card, filtered by task and name (both kept in the URL). */
import { useEffect, useState } from 'preact/hooks';
import type { SpaceInfo, SpaceTask } from '../../server/catalog.ts';
import { fmt } from '../lib.ts';
import { Header } from './header.tsx';
import { STATE_NAMES, TASK_NAMES } from './names.ts';

export type GallerySpace = SpaceInfo & { latency: { p50: number | null; p95: number | null; samples: number } | null };

export function Gallery({ spaces }: { spaces: GallerySpace[] }) {
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

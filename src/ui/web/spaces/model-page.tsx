/**
 * The model page (`/{org}/{name}`), laid out like the Hub's: the card or the files on the left, the Deploy and
 * "Use this model" menus on the right. Loaded only by this view, so a Space page never carries the Markdown
 * renderer.
 */
import { useEffect, useState } from 'preact/hooks';
import type { ModelPageInfo } from '../../server/model-page.ts';
import { fmt } from '../lib.ts';
import { Header } from './header.tsx';
import { ModelCard } from './model-card.tsx';
import { ModelFiles } from './model-files.tsx';
import { WayMenuSection } from './model-menus.tsx';
import { STATE_NAMES, TASK_NAMES } from './names.ts';

export function ModelPage({ model }: { model: ModelPageInfo }) {
  const [tab, setTab] = useState<'card' | 'files'>(new URLSearchParams(location.search).get('tab') === 'files' ? 'files' : 'card');
  useEffect(() => history.replaceState(null, '', tab === 'files' ? '?tab=files' : location.pathname), [tab]);
  const task = model.task ? ((TASK_NAMES as Record<string, string>)[model.task] ?? model.task) : undefined;
  return (
    <>
      <Header>
        <a href="/admin">Console</a>
      </Header>
      <main id="main" class="model-page">
        <div class="title">
          <h1>{model.id}</h1>
          <p class="facts">
            {task && <span class="chip">{task}</span>}
            {model.libraryName && <span class="chip plain">{model.libraryName}</span>}
            {model.license && <span class="chip plain">License: {model.license}</span>}
            {model.state && <span class={`state s-${model.state}`}>{STATE_NAMES[model.state] ?? model.state}</span>}
            {model.providers.length > 0 && <span class="state">Hosted: {model.providers.join(', ')}</span>}
            {model.files && <span class="muted">{fmt.bytes(model.totalBytes)}</span>}
          </p>
          {model.tags.length > 0 && (
            <ul class="tags" aria-label="Tags">
              {model.tags.map((t) => (
                <li key={t}>{t}</li>
              ))}
            </ul>
          )}
          {model.unrunnable && (
            <p class="warn" data-testid="unrunnable">
              This server stores this repository and serves its files, but cannot run it: {model.unrunnable}.
            </p>
          )}
        </div>
        <div class="model-layout">
          <div class="model-main">
            <nav class="tabs" aria-label="Views">
              <a href={location.pathname} aria-current={tab === 'card' ? 'page' : undefined} onClick={(e) => (e.preventDefault(), setTab('card'))}>
                Model card
              </a>
              <a href="?tab=files" aria-current={tab === 'files' ? 'page' : undefined} onClick={(e) => (e.preventDefault(), setTab('files'))}>
                Files{model.files ? ` (${model.files.length})` : ''}
              </a>
            </nav>
            {tab === 'files' ? (
              <ModelFiles model={model} />
            ) : model.card ? (
              <>
                <ModelCard text={model.card} id={model.id} downloadable={model.downloadable} />
                {model.cardNote && <p class="hint">{model.cardNote}</p>}
              </>
            ) : (
              <p class="muted" data-testid="card-note">
                {model.cardNote}
              </p>
            )}
          </div>
          <aside class="model-side" aria-label="Ways to run this model">
            <WayMenuSection menu="deploy" title="Deploy" model={model} />
            <WayMenuSection menu="use" title="Use this model" model={model} />
          </aside>
        </div>
      </main>
      <footer class="foot">
        <p class="muted">Served by this modelhost instance. Snippets use the address your browser used: {model.baseUrl}.</p>
      </footer>
    </>
  );
}

/**
 * Spaces: the gallery (`/spaces`), a page per model (`/spaces/{org}/{name}`), generated from the task, and the
 * model page (`/{org}/{name}`: card, files, Deploy and "Use this model"), whose code is loaded only there.
 */
import { render } from 'preact';
import type { SpaceInfo } from '../server/catalog.ts';
import type { ModelPageInfo } from '../server/model-page.ts';
import { bootstrap } from './lib.ts';
import { Gallery, type GallerySpace } from './spaces/gallery.tsx';
import { Missing } from './spaces/missing.tsx';
import { SpacePage } from './spaces/space-page.tsx';
import './style.css';
import './spaces/model-page.css';

type Boot =
  | { view: 'gallery'; spaces: GallerySpace[] }
  | { view: 'space'; space: SpaceInfo; embed: boolean }
  | { view: 'model'; model: ModelPageInfo }
  | { view: 'missing'; id: string };

function App({ b }: { b: Exclude<Boot, { view: 'model' }> }) {
  if (b.view === 'gallery') return <Gallery spaces={b.spaces} />;
  if (b.view === 'space') return <SpacePage space={b.space} embed={b.embed} />;
  return <Missing id={b.id} />;
}

const root = document.getElementById('app')!;
const b = bootstrap<Boot>();
if (b.view === 'model') {
  const { ModelPage } = await import('./spaces/model-page.tsx');
  root.textContent = '';
  render(<ModelPage model={b.model} />, root);
} else {
  root.textContent = '';
  render(<App b={b} />, root);
}

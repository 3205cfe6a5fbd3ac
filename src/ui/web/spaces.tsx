/** Spaces: the gallery (`/spaces`) and a page per model (`/spaces/{org}/{name}`), generated from the task. */
import { render } from 'preact';
import type { SpaceInfo } from '../server/catalog.ts';
import { bootstrap } from './lib.ts';
import { Gallery, type GallerySpace } from './spaces/gallery.tsx';
import { Missing } from './spaces/missing.tsx';
import { SpacePage } from './spaces/space-page.tsx';
import './style.css';

type Boot = { view: 'gallery'; spaces: GallerySpace[] } | { view: 'space'; space: SpaceInfo; embed: boolean } | { view: 'missing'; id: string };

function App() {
  const b = bootstrap<Boot>();
  if (b.view === 'gallery') return <Gallery spaces={b.spaces} />;
  if (b.view === 'space') return <SpacePage space={b.space} embed={b.embed} />;
  return <Missing id={b.id} />;
}

const root = document.getElementById('app')!;
root.textContent = '';
render(<App />, root);

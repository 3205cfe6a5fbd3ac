/** A code block with a copy button (the "Use via API" snippets and the embed code). */
import { useState } from 'preact/hooks';
import { copy } from '../lib.ts';

export function Code({ title, code }: { title: string; code: string }) {
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

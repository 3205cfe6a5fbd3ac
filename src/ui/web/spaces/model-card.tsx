/**
 * A model card (README.md) rendered in the browser: Markdown by `marked` (GitHub-flavoured: tables, as model
 * cards use them), then sanitised by DOMPurify before anything reaches the document. A card is written by
 * whoever published the model, so it is untrusted: no script, event handler, `javascript:` URL, form, frame,
 * style or id survives. The page's Content-Security-Policy would block scripts as well; this does not rely on it.
 */
import DOMPurify from 'dompurify';
import { Marked } from 'marked';
import { useEffect, useRef } from 'preact/hooks';

// The page's own h1 is the model id: card headings move one level down.
const markdown = new Marked({
  gfm: true,
  walkTokens(token) {
    if (token.type === 'heading') token.depth = Math.min(6, token.depth + 1);
  },
});

const SANITISE = {
  RETURN_DOM_FRAGMENT: true as const,
  FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select', 'option', 'iframe', 'frame', 'object', 'embed', 'base', 'link', 'meta', 'video', 'audio', 'source', 'track'],
  // Ids and classes could collide with the page's own (labels, landmarks, styles); inline styles break the CSP.
  FORBID_ATTR: ['style', 'id', 'name', 'class', 'target', 'form', 'formaction'],
};

const hasScheme = (url: string) => /^[a-z][a-z\d+.-]*:/i.test(url) || url.startsWith('//');

/** Markdown to a sanitised fragment; links to files of the repository point at this server's copy. */
export function renderCard(text: string, id: string, downloadable: boolean): DocumentFragment {
  const html = markdown.parse(text, { async: false });
  const fragment = DOMPurify.sanitize(html, SANITISE);
  const fileUrl = (rel: string) => `/${id}/resolve/main/${rel.replace(/^\.\//, '')}`;
  for (const a of fragment.querySelectorAll('a[href]')) {
    const href = a.getAttribute('href')!;
    if (hasScheme(href)) a.setAttribute('rel', 'nofollow noopener noreferrer');
    else if (downloadable && !href.startsWith('#') && !href.startsWith('/')) a.setAttribute('href', fileUrl(href));
  }
  for (const img of fragment.querySelectorAll('img')) {
    const src = img.getAttribute('src') ?? '';
    const local = src.startsWith('data:') || (!hasScheme(src) && (src.startsWith('/') || downloadable));
    if (local) {
      if (!hasScheme(src) && !src.startsWith('/')) img.setAttribute('src', fileUrl(src));
      continue;
    }
    // Pages load nothing from other origins (they work offline, and the CSP forbids it): say what was there.
    const note = document.createElement('span');
    note.className = 'img-note';
    note.textContent = `[image${img.getAttribute('alt') ? `: ${img.getAttribute('alt')}` : ''}]`;
    img.replaceWith(note);
  }
  return fragment;
}

export function ModelCard({ text, id, downloadable }: { text: string; id: string; downloadable: boolean }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    ref.current?.replaceChildren(renderCard(text, id, downloadable));
  }, [text]);
  return <div class="markdown" ref={ref} data-testid="card" />;
}

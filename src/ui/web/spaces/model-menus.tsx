/**
 * The model page's two menus, as on the Hub (seed 004): **Deploy** (the Inference API here, a dedicated
 * endpoint, the Space) and **Use this model** (transformers.js, `modelhost pull`, Python). The entries are the
 * server's list of ways (src/server/ways.ts); a way that does not apply is not offered, and one line under
 * the menu says why.
 */
import type { AbsentWay, Way, WayMenu } from '../../../server/ways.ts';
import type { ModelPageInfo } from '../../server/model-page.ts';
import { Code } from './code.tsx';
import { CreateEndpoint } from './create-endpoint.tsx';

/** What a snippet is written in, as its caption (the way's own title is just above it). */
const LANGUAGE: Record<string, string> = { library: 'JavaScript', pull: 'Shell', huggingface_hub: 'Python', transformers: 'Python', 'openai-completions': 'curl' };

const BLURB: Record<string, string> = {
  serverless: 'Call it on this server, in the Hugging Face Inference API’s shape.',
  'openai-completions': 'The OpenAI completions API, for text generation.',
  dedicated: 'Its own replicas, URL, access and scaling.',
  space: 'Try it in the browser.',
  library: 'Run it yourself, in Node or the browser.',
  pull: 'Download it into the Hugging Face cache.',
  huggingface_hub: 'Download it from Python, with this server as the Hub.',
  transformers: 'Run it in Python.',
};

function WayBody({ way, model }: { way: Way; model: ModelPageInfo }) {
  switch (way.method) {
    case 'serverless':
      return (
        <>
          <p>
            <code class="url">{way.url}</code>
          </p>
          <p data-testid="providers">
            Served by:{' '}
            {(way.providers ?? []).map((p) => (
              <span key={p} class="chip">
                {p === 'local' ? 'this server (local engine)' : p}
              </span>
            ))}
          </p>
          {way.snippet && <Code title="curl" code={way.snippet} />}
        </>
      );
    case 'dedicated':
      return (
        <>
          <CreateEndpoint id={model.id} way={way} baseUrl={model.baseUrl} />
          {way.snippet && <Code title="From the command line" code={way.snippet} />}
        </>
      );
    case 'space':
      return (
        <p>
          <a class="button" href={`/spaces/${model.id}`}>
            Open the Space
          </a>
        </p>
      );
    default:
      return (
        <>
          {way.url && (
            <p>
              <code class="url">{way.url}</code>
            </p>
          )}
          {way.snippet && <Code title={LANGUAGE[way.method] ?? way.title} code={way.snippet} />}
        </>
      );
  }
}

export function WayMenuSection({ menu, title, model }: { menu: WayMenu; title: string; model: ModelPageInfo }) {
  const ways = model.ways.usage.filter((w) => w.menu === menu);
  const absent: AbsentWay[] = model.ways.absent.filter((w) => w.menu === menu);
  const hid = `menu-${menu}`;
  return (
    <section class="menu" aria-labelledby={hid} data-testid={`menu-${menu}`}>
      <h2 id={hid}>{title}</h2>
      {ways.length === 0 && <p class="muted">Nothing in this menu applies to this model:</p>}
      <ul class="ways">
        {ways.map((w, i) => (
          <li key={w.method}>
            <details open={i === 0} data-way={w.method}>
              <summary>
                <span class="way-title">{w.title}</span>
                <span class="way-blurb">{BLURB[w.method] ?? ''}</span>
              </summary>
              <div class="way-body">
                <WayBody way={w} model={model} />
              </div>
            </details>
          </li>
        ))}
      </ul>
      {absent.length > 0 && (
        <ul class="absent" aria-label={`${title}: not available`}>
          {absent.map((a) => (
            <li key={a.method} data-absent={a.method}>
              {a.reason}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

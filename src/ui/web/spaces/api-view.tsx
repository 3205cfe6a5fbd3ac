/** The "Use via API" view of a model's page: snippets with the current inputs, and the code to embed the page. */
import { useMemo } from 'preact/hooks';
import type { SpaceInfo, SpaceTask } from '../../server/catalog.ts';
import { snippets } from '../snippets.ts';
import { Code } from './code.tsx';
import type { Inputs } from './inputs.ts';

export function ApiView({ space, task, inputs }: { space: SpaceInfo; task: SpaceTask; inputs: Inputs }) {
  const io = { text: inputs.text, context: inputs.context, candidate_labels: inputs.candidate_labels, multi_class: inputs.multi_class, source_sentence: inputs.source_sentence, sentences: inputs.sentences };
  const snips = useMemo(() => snippets(space, task, io), [task, inputs]);
  const pageUrl = `${space.baseUrl}/spaces/${space.id}`;
  const embedCode = `<iframe src="${pageUrl}?embed=1" title="${space.id} on modelhost" width="100%" height="520" style="border:0"></iframe>\n<script>\n  addEventListener('message', (e) => {\n    if (e.origin === '${space.baseUrl}' && e.data?.type === 'modelhost:resize')\n      document.querySelector('iframe[src^="${pageUrl}"]').height = e.data.height;\n  });\n</script>`;
  return (
    <section aria-labelledby="api-h">
      <h2 id="api-h">Use via API</h2>
      <p>Base URL: <code>{space.baseUrl}</code>. Where tokens are on, set <code>MODELHOST_TOKEN</code> to a token with the inference scope.</p>
      {snips.map((s) => (
        <Code key={s.title} title={s.title} code={s.code} />
      ))}
      <h2>Embed this page</h2>
      <Code title="HTML" code={embedCode} />
    </section>
  );
}

/** The files of a model with their sizes, each a download from this server when it serves the Hub file API. */
import type { ModelPageInfo } from '../../server/model-page.ts';
import { fmt } from '../lib.ts';

export function ModelFiles({ model }: { model: ModelPageInfo }) {
  if (!model.files) {
    return <p data-testid="files-note">No files here: this model is served by hosted providers ({model.providers.join(', ')}), and this server stores none of its files.</p>;
  }
  return (
    <div class="scroll">
      <table data-testid="files">
        <caption>
          {model.files.length} files, {fmt.bytes(model.totalBytes)}
        </caption>
        <thead>
          <tr>
            <th scope="col">File</th>
            <th scope="col" class="num">
              Size
            </th>
            <th scope="col">Storage</th>
          </tr>
        </thead>
        <tbody>
          {model.files.map((f) => (
            <tr key={f.path}>
              <th scope="row">
                {model.downloadable ? (
                  <a href={`/${model.id}/resolve/main/${f.path}`} download={f.path.split('/').pop()}>
                    {f.path}
                  </a>
                ) : (
                  f.path
                )}
              </th>
              <td class="num" title={`${f.size} bytes`}>
                {fmt.bytes(f.size)}
              </td>
              <td>{f.lfs ? <span class="badge lfs">LFS</span> : <span class="muted">git</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

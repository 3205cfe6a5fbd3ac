/** The image input: drop, paste, choose a file or (on a phone) take a photo. */
import { useEffect, useState } from 'preact/hooks';
import type { Picked } from './inputs.ts';

export function ImageInput({ file, onFile }: { file?: Picked; onFile: (f: Picked) => void }) {
  const [over, setOver] = useState(false);
  const take = (f: File | Blob | null | undefined, name = 'image') => {
    if (f && f.type.startsWith('image/')) onFile({ blob: f, name: (f as File).name ?? name, url: URL.createObjectURL(f) });
  };
  useEffect(() => {
    const paste = (e: ClipboardEvent) => {
      const item = [...(e.clipboardData?.items ?? [])].find((i) => i.type.startsWith('image/'));
      if (item) take(item.getAsFile(), 'pasted-image');
    };
    document.addEventListener('paste', paste);
    return () => document.removeEventListener('paste', paste);
  }, []);
  return (
    <fieldset class="file">
      <legend>Image</legend>
      <div
        class={`drop ${over ? 'over' : ''}`}
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          e.preventDefault();
          setOver(false);
          take(e.dataTransfer?.files[0]);
        }}
      >
        {file ? <img src={file.url} alt={`Selected image: ${file.name}`} class="preview" /> : <p class="muted desktop-only">Drop an image here, paste one, or</p>}
        <label class="button">
          Choose image
          <input class="visually-hidden-file" type="file" accept="image/*" onChange={(e) => take((e.target as HTMLInputElement).files?.[0])} />
        </label>{' '}
        <label class="button mobile-only">
          Take a photo
          <input class="visually-hidden-file" type="file" accept="image/*" capture="environment" onChange={(e) => take((e.target as HTMLInputElement).files?.[0])} />
        </label>
      </div>
    </fieldset>
  );
}

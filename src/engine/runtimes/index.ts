import type { Runtime } from '../runtime.ts';

/** Runtimes by name, imported lazily inside the worker that needs them. One line per runtime. */
const loaders: Record<string, () => Promise<Runtime>> = {
  transformers: async () => (await import('./transformers.ts')).transformersRuntime,
  fasttext: async () => (await import('./fasttext.ts')).fasttextRuntime,
  'silero-vad': async () => (await import('./silero-vad.ts')).sileroVadRuntime,
};

export function runtimeNames(): string[] {
  return Object.keys(loaders);
}

export async function loadRuntime(name: string): Promise<Runtime> {
  const loader = loaders[name];
  if (!loader) throw new Error(`unknown runtime "${name}"; known: ${runtimeNames().join(', ')}`);
  return loader();
}

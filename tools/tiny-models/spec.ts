/**
 * What every model builder returns: a model id plus the files of its Hugging Face style folder.
 * The README and the version stamp are added by files.ts, from the card fields below.
 */

/** Relative path inside the model folder -> content (objects are written as pretty JSON). */
export type ModelFiles = Record<string, string | Uint8Array | object>;

export interface ModelCard {
  pipelineTag: string;
  tags: string[];
  /** One or two sentences for the README body (what the graph is). */
  summary: string;
}

export interface BuiltModel {
  id: string;
  card: ModelCard;
  files: ModelFiles;
}

export interface ModelSpec {
  id: string;
  /** Anything that changes the bytes (dims, seed); part of the `.factory-version` stamp. */
  stampKey: string;
  build(): BuiltModel;
}

/** id2label / label2id pair for config.json. */
export function labelMaps(labels: readonly string[]): { id2label: Record<string, string>; label2id: Record<string, number> } {
  return {
    id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
    label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
  };
}

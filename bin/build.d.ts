/** Types of bin/build.js (plain JavaScript, since it runs before anything is compiled). */

/** The package root: the folder above bin/. */
export const ROOT: string;

/** Every build input under `root` (path relative to it, with `/`), with its `size:mtime`. */
export function buildInputs(root?: string): Record<string, string>;

/** Why root/dist does not match the sources under `root` as they are now, or undefined when it does. */
export function staleReason(root?: string): string | undefined;

/** The TypeScript compiler module, or undefined when it is not installed. */
export function loadTypeScript(root?: string): unknown;

export interface BuildResult {
  ok: boolean;
  /** Files compiled by this call (0 when the build was current). */
  compiled: number;
  /** tsc's syntax diagnostics, or why the build failed. */
  messages: string[];
}

/** Compiles what changed under `root` into root/dist and stamps it. */
export function build(opts?: { root?: string; ifStale?: boolean; full?: boolean }): Promise<BuildResult>;

/** Imports dist/<rel>.js, compiling first when stale; the sources through tsx when it cannot compile. */
export function runCompiled(rel: string): Promise<unknown>;

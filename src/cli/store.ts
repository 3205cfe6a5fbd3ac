import { openStore } from '../store/index.ts';
import type { Store } from '../store/types.ts';
import { fail } from './options.ts';

export interface DbOpts {
  database?: string;
  dataDir: string;
}

/** Opens the store the command names, runs `work` on it and closes it; a store that cannot open is one clear line. */
export async function withStore<T>(opts: DbOpts, work: (store: Store) => Promise<T>): Promise<T> {
  let store: Store;
  try {
    store = await openStore({ database: opts.database, dataDir: opts.dataDir });
  } catch (e) {
    fail((e as Error).message);
  }
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

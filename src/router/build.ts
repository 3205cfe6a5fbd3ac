/** Builds the router's adapters from the providers file: keys from the environment, timeouts merged. */
import type { ProviderAdapter } from '../core/providers.ts';
import { adapterFactories } from '../providers/index.ts';
import { timeoutsFor, type RouterFile } from './config.ts';
import { Router, type RouterEvents } from './router.ts';

export interface BuildOptions {
  env?: NodeJS.ProcessEnv;
  events?: RouterEvents;
  warn?: (message: string) => void;
}

export function buildRouter(file: RouterFile, local: ProviderAdapter | undefined, opts: BuildOptions = {}): Router {
  const env = opts.env ?? process.env;
  const adapters = new Map<string, ProviderAdapter>();
  const secrets: string[] = [];
  if (local) adapters.set('local', local);
  for (const entry of file.providers) {
    const apiKey = entry.apiKeyEnv ? env[entry.apiKeyEnv] : undefined;
    if (apiKey) secrets.push(apiKey);
    if (entry.apiKeyEnv && !apiKey) {
      // Not fatal: a keyless provider answers 401, is marked as misconfigured and failed over.
      opts.warn?.(`provider ${entry.name}: environment variable ${entry.apiKeyEnv} is not set; calls go out without a key`);
    }
    const factory = adapterFactories[entry.type]!;
    adapters.set(entry.name, factory({ name: entry.name, type: entry.type, baseUrl: entry.baseUrl.replace(/\/+$/, ''), apiKey, timeouts: timeoutsFor(file, entry), options: entry.options }));
  }
  return new Router(file, adapters, { ...opts.events, secrets });
}



/**
 * Whether a model folder carries a chat template, read from its files without loading the model (pages and
 * listings ask this on the HTTP side; the worker reads the template itself when it answers).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export function hasChatTemplate(dir: string): boolean {
  if (existsSync(path.join(dir, 'chat_template.jinja'))) return true;
  try {
    const config = JSON.parse(readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8')) as { chat_template?: unknown };
    return (typeof config.chat_template === 'string' && config.chat_template !== '') || (Array.isArray(config.chat_template) && config.chat_template.length > 0);
  } catch {
    return false;
  }
}

/**
 * Every migration, by name; names sort in the order they apply. A static list rather than
 * FileMigrationProvider: the files are TypeScript loaded through tsx, not a directory of .js.
 * Never edit a migration that has shipped; add the next number.
 */
import type { Migration, MigrationProvider } from 'kysely';
import { tokens } from './001_tokens.ts';
import { usage } from './002_usage.ts';
import { endpoints } from './003_endpoints.ts';
import { usageMedia } from './004_usage_media.ts';
import { predictions } from './005_predictions.ts';
import { usageRequestId } from './006_usage_request_id.ts';

export const MIGRATIONS: Record<string, Migration> = {
  '001_tokens': tokens,
  '002_usage': usage,
  '003_endpoints': endpoints,
  '004_usage_media': usageMedia,
  '005_predictions': predictions,
  '006_usage_request_id': usageRequestId,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => MIGRATIONS,
};

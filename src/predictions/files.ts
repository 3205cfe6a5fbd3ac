/**
 * Output files (images, audio) of predictions, kept in the database so that every instance serves them, and
 * reached through signed URLs that expire: `/v1/files/{id}?expires=<unix s>&signature=<hmac>`. The signature
 * is the URL's only credential (a browser or the `replicate` client's FileOutput fetches it without a token);
 * the key is shared by every instance through the database. Expired files are deleted by a sweep.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { PredictionStore } from '../store/predictions.ts';

export type FileLookup =
  | { ok: true; contentType: string; bytes: Uint8Array }
  | { ok: false; status: 404 | 410; reason: string };

export class FileStore {
  private key: Promise<string> | undefined;

  constructor(
    private readonly store: PredictionStore,
    readonly ttlMs: number,
  ) {}

  private signingKey(): Promise<string> {
    this.key ??= this.store.secret('files', () => randomBytes(32).toString('base64'));
    return this.key;
  }

  private async sign(id: string, expires: number): Promise<string> {
    return createHmac('sha256', await this.signingKey()).update(`${id}.${expires}`).digest('base64url');
  }

  /** Stores the bytes and answers their signed URL under `base`. */
  async put(predictionId: string, bytes: Uint8Array, contentType: string, base: string): Promise<string> {
    const id = `${predictionId}-${randomBytes(6).toString('hex')}`;
    const expiresAt = Date.now() + this.ttlMs;
    await this.store.putFile({ id, predictionId, contentType, bytes, expiresAt }, Date.now());
    const expires = Math.floor(expiresAt / 1000);
    return `${base}/v1/files/${id}?expires=${expires}&signature=${await this.sign(id, expires)}`;
  }

  /** 404 for a bad signature or a missing file; 410 once the URL has expired. */
  async get(id: string, expires: string | undefined, signature: string | undefined): Promise<FileLookup> {
    const exp = Number(expires);
    if (!Number.isInteger(exp) || !signature) return { ok: false, status: 404, reason: 'No such file (the URL is incomplete).' };
    const want = Buffer.from(await this.sign(id, exp));
    const got = Buffer.from(signature);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return { ok: false, status: 404, reason: 'No such file (the signature does not match).' };
    if (exp * 1000 <= Date.now()) return { ok: false, status: 410, reason: 'This file URL has expired; get the prediction again for a fresh one, or run it again.' };
    const file = await this.store.getFile(id);
    if (!file || file.expiresAt <= Date.now()) return { ok: false, status: 410, reason: 'This file has expired and was deleted.' };
    return { ok: true, contentType: file.contentType, bytes: file.bytes };
  }

  /** `urls.stream` carries its own credential: the `replicate` client opens it without the token. */
  async streamSignature(predictionId: string): Promise<string> {
    return createHmac('sha256', await this.signingKey()).update(`stream.${predictionId}`).digest('base64url');
  }

  async checkStream(predictionId: string, signature: string | undefined): Promise<boolean> {
    if (!signature) return false;
    const want = Buffer.from(await this.streamSignature(predictionId));
    const got = Buffer.from(signature);
    return want.length === got.length && timingSafeEqual(want, got);
  }

  sweep(): Promise<number> {
    return this.store.deleteExpiredFiles(Date.now());
  }
}

/**
 * Providers answer files as URLs (short-lived), `data:` URIs or bare base64. The Hugging Face API answers
 * the bytes with their content type; this turns any of the three into that.
 */
import { UpstreamError, type CallSignal } from '../../core/providers.ts';
import { header, httpError, type UpstreamHttp } from './http.ts';

export interface Artifact {
  bytes: Uint8Array;
  contentType: string;
}

/** The media type from the first bytes of common image, audio and video files. */
export function sniffMime(b: Uint8Array): string | undefined {
  const ascii = (from: number, to: number) => String.fromCharCode(...b.subarray(from, to));
  if (b[0] === 0x89 && ascii(1, 4) === 'PNG') return 'image/png';
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'image/webp';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WAVE') return 'audio/wav';
  if (ascii(0, 3) === 'GIF') return 'image/gif';
  if (ascii(0, 4) === 'fLaC') return 'audio/flac';
  if (ascii(0, 4) === 'OggS') return 'audio/ogg';
  if (ascii(0, 3) === 'ID3' || (b[0] === 0xff && ((b[1] ?? 0) & 0xe0) === 0xe0)) return 'audio/mpeg';
  if (ascii(4, 8) === 'ftyp') return 'video/mp4';
  return undefined;
}

function fromDataUri(provider: string, uri: string): Artifact {
  const m = /^data:([^;,]*)(;[^,]*)?,(.*)$/s.exec(uri);
  if (!m) throw new UpstreamError(provider, 'malformed', `${provider} returned a data URI that cannot be read`);
  const isBase64 = (m[2] ?? '').includes(';base64');
  const bytes = isBase64 ? Buffer.from(m[3]!, 'base64') : Buffer.from(decodeURIComponent(m[3]!), 'utf8');
  return { bytes, contentType: m[1] || sniffMime(bytes) || 'application/octet-stream' };
}

/**
 * Resolves one output reference to bytes. URLs are fetched at once (Replicate deletes them after an hour,
 * fal and WaveSpeed by policy); an expired URL (404/410) is an `artifact_expired` failure the router may retry.
 */
export async function resolveArtifact(
  http: UpstreamHttp,
  ref: string,
  signal: CallSignal,
  opts: { mimeHint?: string; headers?: Record<string, string> } = {},
): Promise<Artifact> {
  const p = http.provider;
  if (ref.startsWith('data:')) return fromDataUri(p, ref);
  if (/^https?:\/\//.test(ref)) {
    const res = await http.send(ref, { signal, headers: opts.headers });
    if (res.status === 404 || res.status === 410) {
      await res.body.dump();
      throw new UpstreamError(p, 'artifact_expired', `${p}: output file ${new URL(ref).pathname} is gone (HTTP ${res.status})`, {
        upstreamStatus: res.status,
      });
    }
    if (res.status < 200 || res.status >= 300) throw httpError(p, res.status, res.headers, await http.text(res, signal));
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await res.body.arrayBuffer());
    } catch (e) {
      throw http.transportError(e, signal);
    }
    const declared = header(res.headers, 'content-type')?.split(';')[0]?.trim();
    const contentType = declared && declared !== 'application/octet-stream' ? declared : (sniffMime(bytes) ?? opts.mimeHint);
    if (!contentType) throw new UpstreamError(p, 'malformed', `${p}: output file of unknown type`);
    return { bytes, contentType };
  }
  // WaveSpeed's enable_base64_output: bare base64, the type implied by the model.
  if (/^[A-Za-z0-9+/=\s]+$/.test(ref) && ref.length >= 8) {
    const bytes = Buffer.from(ref, 'base64');
    const contentType = sniffMime(bytes) ?? opts.mimeHint;
    if (contentType) return { bytes, contentType };
  }
  throw new UpstreamError(p, 'malformed', `${p}: output is neither a URL, a data URI nor base64`);
}

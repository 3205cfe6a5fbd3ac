/**
 * OpenAI's audio uploads: a multipart/form-data body with one `file` part and text fields, read by
 * @fastify/multipart in a preValidation hook, so that by the time the access hook meters the call (preHandler)
 * `request.body` is the parsed form: the file's bytes and the fields (src/auth/metering.ts counts the file's
 * audio seconds). Any problem with the form itself is a 400 (413 past the size limit) in OpenAI's shape.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { InputError, ModelhostError } from '../../core/errors.ts';

/** The uploaded file: its bytes, and what the client says it is (the decoder sniffs the bytes anyway). */
export interface UploadedFile {
  data: Uint8Array;
  filename: string;
  contentType: string;
}

/** A parsed form: `file` is the upload, every other key a text field (repeated fields, such as `x[]`, as lists). */
export interface AudioForm {
  file?: UploadedFile;
  fields: Record<string, string | string[]>;
}

export function isAudioForm(body: unknown): body is AudioForm {
  return typeof body === 'object' && body !== null && 'fields' in body && !(body instanceof Uint8Array);
}

/** Reads the multipart body into `request.body` (an AudioForm); a non-multipart body is a 400 saying what to send. */
export async function readAudioForm(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
  if (!request.isMultipart()) {
    throw new InputError('Send multipart/form-data with the audio in a part named "file" and the other parameters as fields (as the OpenAI SDK does)');
  }
  const form: AudioForm = { fields: {} };
  try {
    for await (const part of request.parts()) {
      if (part.type === 'file') {
        if (part.fieldname !== 'file') {
          // Drain it: the parser waits for every file part to be consumed.
          await part.toBuffer();
          throw new InputError(`Unexpected file part "${part.fieldname}": the audio goes in the part named "file"`);
        }
        if (form.file) throw new InputError('More than one part named "file": send one audio file per request');
        form.file = { data: await part.toBuffer(), filename: part.filename, contentType: part.mimetype };
      } else {
        const value = String(part.value);
        const old = form.fields[part.fieldname];
        form.fields[part.fieldname] = old === undefined ? value : [...(Array.isArray(old) ? old : [old]), value];
      }
    }
  } catch (e) {
    if (e instanceof ModelhostError) throw e;
    const status = (e as { statusCode?: number }).statusCode;
    // @fastify/multipart's limits carry 413; anything else (a cut body, a bad boundary) is a malformed form.
    if (status === 413) throw new ModelhostError('payload_too_large', 413, `The upload is larger than this server accepts (${request.server.initialConfig.bodyLimit} bytes)`);
    throw new InputError(`The multipart body could not be read (${(e as Error).message})`);
  }
  request.body = form;
}

// Input detected by content: gzip is recognised by its magic bytes and inflated on the fly.
import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

/**
 * The input stopped making sense before its end (a gzip stream cut short or damaged on the way): the bytes read
 * so far are good, the rest is missing. Fetching it again can help, so it is retryable, unlike bad records.
 */
export class InputCutShortError extends Error {
  override readonly name = 'InputCutShortError';
  readonly code = 'INPUT_CUT_SHORT';
  readonly retryable = true;
  constructor(detail: string, options?: { cause?: unknown }) {
    super(`the input ended early: ${detail}`, options);
  }
}

export async function* gunzipIfNeeded(source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  const iterator = source[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done) return;
  const head = Buffer.from(first.value);
  const rest: AsyncIterable<Uint8Array> = { [Symbol.asyncIterator]: () => iterator };
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
    async function* whole() {
      yield head;
      yield* rest;
    }
    try {
      // pipeline, not pipe: a failing source (a dropped connection) must fail the read, not go unhandled.
      yield* pipeline(Readable.from(whole()), createGunzip(), () => undefined);
    } catch (err) {
      // zlib's own errors (a cut or damaged stream); the source's errors (a dropped connection) pass unchanged.
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string' && code.startsWith('Z_')) throw new InputCutShortError(`gzip: ${(err as Error).message}`, { cause: err });
      throw err;
    }
    return;
  }
  yield head;
  for await (const chunk of rest) yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

// Input detected by content: gzip is recognised by its magic bytes and inflated on the fly.
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

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
    yield* Readable.from(whole()).pipe(createGunzip());
    return;
  }
  yield head;
  for await (const chunk of rest) yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

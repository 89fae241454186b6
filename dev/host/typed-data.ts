// RPC typed data (what the programming model returns for output bindings) → what the storage bindings write,
// and queue message text ↔ payload under host.json `messageEncoding`. Pure.
import type { RpcTypedData } from './core-contract';

export type Payload = string | Buffer;

/** One queue message per array element (host semantics for an array output); objects become JSON text. */
export function queueMessages(data: RpcTypedData): Payload[] {
  if (data.collectionString?.string) return [...data.collectionString.string];
  if (data.collectionBytes?.bytes) return data.collectionBytes.bytes.map((b) => Buffer.from(b));
  if (data.collectionDouble?.double) return data.collectionDouble.double.map(String);
  if (data.collectionSint64?.sint64) return data.collectionSint64.sint64.map(String);
  if (typeof data.json === 'string') {
    const value: unknown = JSON.parse(data.json);
    const items = Array.isArray(value) ? value : [value];
    return items.map((item) => (typeof item === 'string' ? item : JSON.stringify(item)));
  }
  const single = singlePayload(data);
  return single === undefined ? [] : [single];
}

/** The content of a blob output. */
export function blobContent(data: RpcTypedData): Payload | undefined {
  if (typeof data.json === 'string') return data.json;
  return singlePayload(data);
}

function singlePayload(data: RpcTypedData): Payload | undefined {
  if (typeof data.string === 'string') return data.string;
  const bytes = data.bytes ?? data.stream;
  if (bytes) return Buffer.from(bytes);
  if (typeof data.int === 'number') return String(data.int);
  if (typeof data.double === 'number') return String(data.double);
  return undefined;
}

export type MessageEncoding = 'base64' | 'none';

export function encodeMessage(payload: Payload, encoding: MessageEncoding): string {
  const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  return encoding === 'base64' ? bytes.toString('base64') : bytes.toString('utf8');
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** undefined when the text is not valid base64 (the extension then poisons the message at once). */
export function decodeMessage(text: string, encoding: MessageEncoding): string | undefined {
  if (encoding === 'none') return text;
  const compact = text.replace(/\s+/g, '');
  return BASE64.test(compact) ? Buffer.from(compact, 'base64').toString('utf8') : undefined;
}

// A secret scan for the end of a suite: every text a run left behind (host logs, printed figures, every Azurite blob,
// queue message and table row, what the sink receivers kept) searched for each test secret written any way a leak
// would write it: plain, base64 (standard and URL alphabet, at every byte alignment), URL-encoded, JSON-escaped.
import { TableClient, TableServiceClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';

export interface ScannedText {
  /** Where the text came from, for the report (never the secret). */
  source: string;
  text: string;
}

export interface SecretHit {
  source: string;
  /** The secret's label (e.g. "client secret"), never its value. */
  secret: string;
  form: string;
}

/** base64 of `value` as it appears inside a longer base64 text, for each of the three byte alignments. */
function base64Cores(value: Buffer): string[] {
  const cores: string[] = [];
  for (let lead = 0; lead < 3; lead++) {
    const encoded = Buffer.concat([Buffer.alloc(lead), value]).toString('base64');
    // Drop the group that mixes in the leading bytes and the group that mixes in what follows.
    const start = lead === 0 ? 0 : 4;
    const end = (lead + value.length) % 3 === 0 ? encoded.length : encoded.length - 4;
    cores.push(encoded.slice(start, end));
  }
  return cores;
}

/** Every written form of one secret worth searching for, with the form's name. */
export function secretForms(secret: string): Array<{ form: string; text: string }> {
  const forms = [
    { form: 'plain', text: secret },
    { form: 'URL-encoded', text: encodeURIComponent(secret) },
    { form: 'form-encoded', text: new URLSearchParams({ s: secret }).toString().slice(2) },
    { form: 'JSON-escaped', text: JSON.stringify(secret).slice(1, -1) },
    ...base64Cores(Buffer.from(secret, 'utf8')).flatMap((core) => [
      { form: 'base64', text: core },
      { form: 'base64url', text: core.replace(/\+/g, '-').replace(/\//g, '_') },
    ]),
  ];
  const seen = new Set<string>();
  // Forms too short to mean anything would match by chance.
  return forms.filter((f) => f.text.length >= 12 && !seen.has(f.text) && (seen.add(f.text), true));
}

/**
 * What to look for per secret. A JWT's header and claims are not secret (and are shared by every token of the
 * run); its signature is, and any text holding the token holds the signature, so that is what is searched.
 */
export function secretNeedles(secrets: Record<string, string>): Array<{ secret: string; form: string; text: string }> {
  return Object.entries(secrets).flatMap(([label, value]) => {
    const jwt = /^[\w-]+\.[\w-]+\.([\w-]{16,})$/.exec(value);
    return secretForms(jwt ? jwt[1]! : value).map((f) => ({ secret: label, ...f }));
  });
}

export class SecretScan {
  readonly hits: SecretHit[] = [];
  texts = 0;
  bytes = 0;
  private readonly needles: Array<{ secret: string; form: string; text: string }>;

  constructor(secrets: Record<string, string>) {
    this.needles = secretNeedles(secrets);
  }

  get forms(): number {
    return this.needles.length;
  }

  scan({ source, text }: ScannedText): void {
    this.texts++;
    this.bytes += text.length;
    for (const n of this.needles) if (text.includes(n.text)) this.hits.push({ source, secret: n.secret, form: n.form });
  }

  async scanAll(texts: AsyncIterable<ScannedText> | Iterable<ScannedText>): Promise<void> {
    for await (const t of texts) this.scan(t);
  }
}

/**
 * Every blob of every container, every queue message (received, so also the ones not visible to a peek) and every
 * table row in a storage account, one text at a time. Run it when nothing else uses the account any more.
 */
export async function* storageTexts(connectionString: string): AsyncGenerator<ScannedText> {
  const blobs = BlobServiceClient.fromConnectionString(connectionString);
  for await (const container of blobs.listContainers()) {
    const client = blobs.getContainerClient(container.name);
    for await (const blob of client.listBlobsFlat()) {
      const body = await client.getBlobClient(blob.name).downloadToBuffer();
      yield { source: `blob ${container.name}/${blob.name}`, text: body.toString('utf8') };
    }
  }
  const queues = QueueServiceClient.fromConnectionString(connectionString);
  for await (const queue of queues.listQueues()) {
    const client = queues.getQueueClient(queue.name);
    for (;;) {
      const { receivedMessageItems } = await client.receiveMessages({ numberOfMessages: 32, visibilityTimeout: 3600 });
      if (receivedMessageItems.length === 0) break;
      for (const m of receivedMessageItems) {
        yield { source: `queue ${queue.name}`, text: m.messageText };
        yield { source: `queue ${queue.name} (base64-decoded)`, text: Buffer.from(m.messageText, 'base64').toString('utf8') };
      }
    }
  }
  const tables = TableServiceClient.fromConnectionString(connectionString, { allowInsecureConnection: true });
  for await (const table of tables.listTables()) {
    if (table.name === undefined) continue;
    const client = TableClient.fromConnectionString(connectionString, table.name, { allowInsecureConnection: true });
    for await (const row of client.listEntities()) yield { source: `table ${table.name}`, text: JSON.stringify(row, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)) };
  }
}

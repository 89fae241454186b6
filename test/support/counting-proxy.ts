// A pass-through HTTP proxy in front of in-process Azurite that counts the storage requests going through it, so a
// test can measure what one call of the app costs in storage requests (the scale bench has its own, richer one).
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEV_ACCOUNT, DEV_ACCOUNT_KEY, type RunningAzurite } from '../../dev/azurite';

export interface CountingStorage {
  /** A connection string whose blob, queue and table endpoints go through the proxies. */
  connectionString: string;
  /** Requests so far, per service (blob, queue, table). */
  counts: Record<'blob' | 'queue' | 'table', number>;
  total(): number;
  close(): Promise<void>;
}

async function proxy(target: string, counted: () => void): Promise<Server> {
  const to = new URL(target);
  const server = createServer((req, res) => {
    counted();
    const upstream = request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

export async function countingStorage(azurite: RunningAzurite): Promise<CountingStorage> {
  const counts = { blob: 0, queue: 0, table: 0 };
  const services = ['blob', 'queue', 'table'] as const;
  const targets = { blob: azurite.blobUrl, queue: azurite.queueUrl, table: azurite.tableUrl };
  const servers = await Promise.all(services.map((service) => proxy(new URL(targets[service]!).origin, () => counts[service]++)));
  const url = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}/${DEV_ACCOUNT}`;
  return {
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_ACCOUNT_KEY};` +
      `BlobEndpoint=${url(servers[0]!)};QueueEndpoint=${url(servers[1]!)};TableEndpoint=${url(servers[2]!)};`,
    counts,
    total: () => counts.blob + counts.queue + counts.table,
    close: async () => {
      for (const server of servers) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    },
  };
}

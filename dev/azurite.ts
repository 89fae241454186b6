// In-process Azurite for tests and the dev host: servers built directly (not through Azurite's CLI mains)
// never start Azurite's telemetry, listen on loopback ephemeral ports and keep everything in memory.

/** The well-known Azurite development account; public by design, never a real secret. */
export const DEV_ACCOUNT = 'devstoreaccount1';
export const DEV_ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuriteOptions {
  blob?: boolean;
  queue?: boolean;
  table?: boolean;
  /** Bytes each of the blob and queue services may hold; past it their writes fail. Default 256 MB. */
  memoryLimitBytes?: number;
}

export interface RunningAzurite {
  /**
   * Works with @azure/storage-blob, @azure/storage-queue and @azure/data-tables `fromConnectionString`;
   * data-tables refuses plain http unless given `{ allowInsecureConnection: true }`.
   */
  connectionString: string;
  blobUrl: string | undefined;
  queueUrl: string | undefined;
  tableUrl: string | undefined;
  close(): Promise<void>;
}

/** The part of Azurite's ServerBase we use (azurite ships no type declarations). */
interface AzuriteServer {
  start(): Promise<void>;
  close(): Promise<void>;
  clean(): Promise<void>;
  getHttpServerAddress(): string;
}
type ServerClass = new (config: unknown) => AzuriteServer;
type ConfigClass = new (...args: unknown[]) => unknown;

// Azurite has no `exports` map and no types, so its classes are loaded by path and typed by the shape above.
function load<T>(path: string, name = 'default'): T {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require(path) as Record<string, T>)[name] as T;
}

/** Per-instance memory store, so instances do not share the process-wide default chunk store (50% of RAM). */
const defaultMemoryLimitBytes = 256 * 1024 * 1024;
function memoryStore(limitBytes: number): unknown {
  const Store = load<new (limit: number) => unknown>('azurite/dist/src/common/persistence/MemoryExtentStore', 'MemoryExtentChunkStore');
  return new Store(limitBytes);
}

// Positional constructor arguments (azurite 3.37): host, port, keepAlive, metadataDB, extentDB, persistence paths,
// access log, log stream, debug log, debug path, loose, skipApiVersionCheck, cert, key, pwd, oauth,
// disableProductStyleUrl, inMemory, memoryStore. The DB paths are only names when inMemory is true.
function blobOrQueueConfig(kind: 'blob' | 'queue', memoryLimitBytes: number): unknown[] {
  return ['127.0.0.1', 0, 5, `${kind}-meta`, `${kind}-extent`, undefined, false, undefined, false, undefined,
    true, true, '', '', '', undefined, false, true, memoryStore(memoryLimitBytes)];
}
// Table's order differs: host, port, keepAlive, metadataDB, debug log, access log, log stream, debug path, loose,
// skipApiVersionCheck, cert, key, pwd, oauth, disableProductStyleUrl, inMemory.
function tableConfig(): unknown[] {
  return ['127.0.0.1', 0, 5, 'table-meta', false, false, undefined, undefined, true, true, '', '', '', undefined, false, true];
}

const services = {
  blob: { server: 'azurite/dist/src/blob/BlobServer', config: 'azurite/dist/src/blob/BlobConfiguration', args: (limit: number) => blobOrQueueConfig('blob', limit), endpoint: 'BlobEndpoint' },
  queue: { server: 'azurite/dist/src/queue/QueueServer', config: 'azurite/dist/src/queue/QueueConfiguration', args: (limit: number) => blobOrQueueConfig('queue', limit), endpoint: 'QueueEndpoint' },
  table: { server: 'azurite/dist/src/table/TableServer', config: 'azurite/dist/src/table/TableConfiguration', args: tableConfig, endpoint: 'TableEndpoint' },
} as const;
type ServiceName = keyof typeof services;

export async function startAzurite(options: AzuriteOptions = {}): Promise<RunningAzurite> {
  const wanted = (Object.keys(services) as ServiceName[]).filter((name) => options[name] ?? true);
  const started: Partial<Record<ServiceName, AzuriteServer>> = {};
  try {
    for (const name of wanted) {
      const spec = services[name];
      const Config = load<ConfigClass>(spec.config);
      const Server = load<ServerClass>(spec.server);
      const server = new Server(new Config(...spec.args(options.memoryLimitBytes ?? defaultMemoryLimitBytes)));
      await server.start();
      started[name] = server;
    }
  } catch (err) {
    await stopAll(Object.values(started));
    throw err;
  }
  const url = (name: ServiceName) => {
    const server = started[name];
    return server ? `${server.getHttpServerAddress()}/${DEV_ACCOUNT}` : undefined;
  };
  const endpoints = wanted.map((name) => `${services[name].endpoint}=${url(name)};`).join('');
  let closing: Promise<void> | undefined;
  return {
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_ACCOUNT_KEY};${endpoints}`,
    blobUrl: url('blob'),
    queueUrl: url('queue'),
    tableUrl: url('table'),
    close: () => (closing ??= stopAll(Object.values(started))),
  };
}

async function stopAll(servers: AzuriteServer[]): Promise<void> {
  await Promise.all(servers.map(async (server) => {
    await server.close();
    await server.clean();
  }));
}

// The app's storage account, as the Functions host reads it: a connection string (AzureWebJobsStorage), or an
// identity-based connection (AzureWebJobsStorage__accountName or __blobServiceUri/__queueServiceUri/__tableServiceUri,
// with __clientId for a user-assigned identity). One place builds the blob, queue and table clients for either form.
import { TableClient, TableServiceClient, type TableServiceClientOptions } from '@azure/data-tables';
import { DefaultAzureCredential, ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueClient, QueueServiceClient } from '@azure/storage-queue';

export type StorageSettings =
  | { kind: 'connectionString'; connectionString: string }
  | { kind: 'identity'; blobServiceUri: string; queueServiceUri: string; tableServiceUri: string; clientId?: string | undefined };

export interface StorageAccount {
  blobService: BlobServiceClient;
  queueService: QueueServiceClient;
  tableService: TableServiceClient;
  queue(name: string): QueueClient;
  table(name: string): TableClient;
}

export interface StorageClientOptions {
  /** One try with this timeout instead of the SDK's retries: for checks that must answer quickly (doctor). */
  quickCheckMs?: number;
  /** The most one try of a table request may take (default 60 s). */
  tryTimeoutMs?: number;
}

/**
 * The table SDK sets no client-side timeout: a connection that stops answering would hold an invocation (and the
 * ledger row it works on) until the function timeout. A try that takes longer fails to its caller, whose message is
 * retried; 60 s is well above the service's own 30 s operation timeout. (The blob and queue SDKs' tryTimeoutInMs
 * only asks the server for a timeout, it does not abort on the client: tested in storage-timeouts.test.ts.)
 */
const defaultTryTimeoutMs = 60_000;

/** Sets the try timeout on every try of a table request (core-rest-pipeline's `request.timeout`). */
const tableTryTimeout = (ms: number): NonNullable<TableServiceClientOptions['additionalPolicies']>[number] => ({
  position: 'perRetry',
  policy: {
    name: 'tableTryTimeout',
    sendRequest: (request, next) => {
      if (!request.timeout || request.timeout > ms) request.timeout = ms;
      return next(request);
    },
  },
});

/** Azurite and other plain-http endpoints (local only) need the table client's explicit consent. */
const insecureTable = (connectionString: string) =>
  /(^|;)\s*(DefaultEndpointsProtocol\s*=\s*http|TableEndpoint\s*=\s*http:)\s*(;|$|\/)/i.test(connectionString);

/**
 * Why a text is not a storage connection string, or undefined. The SDKs' own parsers decide, without any I/O; one
 * that names only some services (a blob-only Azurite) is fine here. Their messages are not repeated: they may quote
 * the string, and its key.
 */
export function connectionStringProblem(connectionString: string): string | undefined {
  const builders = [
    () => BlobServiceClient.fromConnectionString(connectionString),
    () => QueueServiceClient.fromConnectionString(connectionString),
    () => TableServiceClient.fromConnectionString(connectionString, { allowInsecureConnection: insecureTable(connectionString) }),
  ];
  const usable = builders.some((build) => {
    try {
      build();
      return true;
    } catch {
      return false;
    }
  });
  return usable ? undefined : 'is not a storage connection string (AccountName=...;AccountKey=...;EndpointSuffix=..., or UseDevelopmentStorage=true)';
}

/** The account's clients, each built on first use (a connection string may name only some of the services). */
function lazyAccount(make: {
  blobService: () => BlobServiceClient;
  queueService: () => QueueServiceClient;
  tableService: () => TableServiceClient;
  queue: (name: string) => QueueClient;
  table: (name: string) => TableClient;
}): StorageAccount {
  let blob: BlobServiceClient | undefined;
  let queue: QueueServiceClient | undefined;
  let table: TableServiceClient | undefined;
  return {
    get blobService() {
      return (blob ??= make.blobService());
    },
    get queueService() {
      return (queue ??= make.queueService());
    },
    get tableService() {
      return (table ??= make.tableService());
    },
    queue: make.queue,
    table: make.table,
  };
}

export function createStorageAccount(settings: StorageSettings, options: StorageClientOptions = {}): StorageAccount {
  const quick = options.quickCheckMs;
  const tryTimeoutMs = quick ?? options.tryTimeoutMs ?? defaultTryTimeoutMs;
  const storageRetry = quick === undefined ? {} : { retryOptions: { maxTries: 1, tryTimeoutInMs: quick } };
  const tableRetry = { additionalPolicies: [tableTryTimeout(tryTimeoutMs)], ...(quick === undefined ? {} : { retryOptions: { maxRetries: 0 } }) };
  if (settings.kind === 'connectionString') {
    const cs = settings.connectionString;
    const tableOptions = { allowInsecureConnection: insecureTable(cs), ...tableRetry };
    return lazyAccount({
      blobService: () => BlobServiceClient.fromConnectionString(cs, storageRetry),
      queueService: () => QueueServiceClient.fromConnectionString(cs, storageRetry),
      tableService: () => TableServiceClient.fromConnectionString(cs, tableOptions),
      queue: (name) => new QueueClient(cs, name, storageRetry),
      table: (name) => TableClient.fromConnectionString(cs, name, tableOptions),
    });
  }
  const credential: TokenCredential = settings.clientId ? new ManagedIdentityCredential({ clientId: settings.clientId }) : new DefaultAzureCredential();
  const trim = (uri: string) => uri.replace(/\/+$/, '');
  return lazyAccount({
    blobService: () => new BlobServiceClient(trim(settings.blobServiceUri), credential, storageRetry),
    queueService: () => new QueueServiceClient(trim(settings.queueServiceUri), credential, storageRetry),
    tableService: () => new TableServiceClient(trim(settings.tableServiceUri), credential, tableRetry),
    queue: (name) => new QueueClient(`${trim(settings.queueServiceUri)}/${name}`, credential, storageRetry),
    table: (name) => new TableClient(trim(settings.tableServiceUri), name, credential, tableRetry),
  });
}

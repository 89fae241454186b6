// The app's storage account, as the Functions host reads it: a connection string (AzureWebJobsStorage), or an
// identity-based connection (AzureWebJobsStorage__accountName or __blobServiceUri/__queueServiceUri/__tableServiceUri,
// with __clientId for a user-assigned identity). One place builds the blob, queue and table clients for either form.
import { TableClient } from '@azure/data-tables';
import { DefaultAzureCredential, ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueClient } from '@azure/storage-queue';

export type StorageSettings =
  | { kind: 'connectionString'; connectionString: string }
  | { kind: 'identity'; blobServiceUri: string; queueServiceUri: string; tableServiceUri: string; clientId?: string | undefined };

export interface StorageAccount {
  blobService: BlobServiceClient;
  queue(name: string): QueueClient;
  table(name: string): TableClient;
}

/** Azurite and other plain-http endpoints (local only) need the table client's explicit consent. */
const insecureTable = (connectionString: string) =>
  /(^|;)\s*(DefaultEndpointsProtocol\s*=\s*http|TableEndpoint\s*=\s*http:)\s*(;|$|\/)/i.test(connectionString);

export function createStorageAccount(settings: StorageSettings): StorageAccount {
  if (settings.kind === 'connectionString') {
    const cs = settings.connectionString;
    return {
      blobService: BlobServiceClient.fromConnectionString(cs),
      queue: (name) => new QueueClient(cs, name),
      table: (name) => TableClient.fromConnectionString(cs, name, { allowInsecureConnection: insecureTable(cs) }),
    };
  }
  const credential: TokenCredential = settings.clientId ? new ManagedIdentityCredential({ clientId: settings.clientId }) : new DefaultAzureCredential();
  const trim = (uri: string) => uri.replace(/\/+$/, '');
  return {
    blobService: new BlobServiceClient(trim(settings.blobServiceUri), credential),
    queue: (name) => new QueueClient(`${trim(settings.queueServiceUri)}/${name}`, credential),
    table: (name) => new TableClient(trim(settings.tableServiceUri), name, credential),
  };
}

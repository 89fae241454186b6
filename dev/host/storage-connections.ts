// Binding `connection` names → storage clients, resolved from the app settings like the host does
// (`<name>`, then `AzureWebJobs<name>`). Identity-based connections (`<name>__serviceUri`) are not supported
// here: the dev host only talks to Azurite with its connection string.
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';

export type AppSettings = Readonly<Record<string, string | undefined>>;

export class StorageConnections {
  readonly #settings: AppSettings;
  readonly #queues = new Map<string, QueueServiceClient>();
  readonly #blobs = new Map<string, BlobServiceClient>();

  constructor(settings: AppSettings) {
    this.#settings = settings;
  }

  connectionString(name: string): string {
    const value = this.#settings[name] ?? this.#settings[`AzureWebJobs${name}`];
    if (value) return value;
    const identityBased = Object.keys(this.#settings).some((k) => k.startsWith(`${name}__`));
    throw new Error(identityBased
      ? `Connection "${name}" is identity-based; the dev host needs a connection string in the "${name}" setting.`
      : `No app setting "${name}" holds a storage connection string.`);
  }

  queueService(name: string): QueueServiceClient {
    return cached(this.#queues, name, () => QueueServiceClient.fromConnectionString(this.connectionString(name)));
  }

  blobService(name: string): BlobServiceClient {
    return cached(this.#blobs, name, () => BlobServiceClient.fromConnectionString(this.connectionString(name)));
  }
}

function cached<T>(map: Map<string, T>, key: string, make: () => T): T {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}

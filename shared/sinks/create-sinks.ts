// Sinks from their definitions: one factory per kind (a table), the sink's own filter as a decorator.
import type { StorageAccount } from '../state/storage-account';
import { ConfigError } from '../config';
import { compileFilter } from '../records/filters';
import { createBlobSink } from './blob-sink';
import { createHttpsJsonSink } from './https-json-sink';
import { createSentinelSink } from './sentinel-sink';
import { createSplunkHecSink } from './splunk-hec-sink';
import { createSyslogSink } from './syslog-sink';
import { filteredSink } from './filtered-sink';
import type { Sink, SinkContext } from './sink';
import type { SinkDefinition } from './sink-settings';

export interface SinkEnvironment extends SinkContext {
  /** The app's storage account (AzureWebJobsStorage), for the blob sink. */
  storage: StorageAccount | undefined;
}

type Factory<K extends SinkDefinition['kind']> = (definition: Extract<SinkDefinition, { kind: K }>, environment: SinkEnvironment) => Sink;

const factories: { [K in SinkDefinition['kind']]: Factory<K> } = {
  blob: (d, env) => {
    if (env.storage === undefined) throw new ConfigError([{ setting: 'AzureWebJobsStorage', problem: `is required by the blob sink ${d.name}` }]);
    return createBlobSink({ name: d.name, containerClient: env.storage.blobService.getContainerClient(d.container), format: d.format });
  },
  'https-json': (d, env) => createHttpsJsonSink(d.name, d, env),
  'splunk-hec': (d, env) => createSplunkHecSink(d.name, d, env),
  syslog: (d, env) => createSyslogSink(d.name, d, env),
  sentinel: (d, env) => createSentinelSink(d.name, d, env),
};

export interface ConfiguredSink extends Sink {
  readonly tenants?: readonly string[] | undefined;
}

export function createSinks(definitions: readonly SinkDefinition[], environment: SinkEnvironment): ConfiguredSink[] {
  return definitions.map((definition) => {
    const factory = factories[definition.kind] as Factory<SinkDefinition['kind']>;
    const sink = factory(definition, environment);
    const routed = definition.filter ? filteredSink(sink, compileFilter(definition.filter)) : sink;
    return Object.assign(routed, { tenants: definition.tenants });
  });
}

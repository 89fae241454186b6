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

/** The setting a sink sends as its token, for the kinds that send one: a tenant's own token replaces its value. */
const tokenSettings: { [K in SinkDefinition['kind']]?: (definition: Extract<SinkDefinition, { kind: K }>) => string | undefined } = {
  'https-json': (d) => d.tokenSetting,
  'splunk-hec': (d) => d.tokenSetting,
};

/** The name of the setting holding the sink's token, or undefined for a sink that sends none. */
export function tokenSettingOf(definition: SinkDefinition): string | undefined {
  const of = tokenSettings[definition.kind] as ((d: SinkDefinition) => string | undefined) | undefined;
  return of?.(definition);
}

/** The same sink sending another token (a tenant's own); dispose() closes its connections once it is replaced. */
export interface TokenSink {
  sink: Sink;
  dispose(): void;
}

export interface ConfiguredSink extends Sink {
  readonly tenants?: readonly string[] | undefined;
  /** For a sink that sends a token: the same sink with `token` instead of its setting's value. */
  readonly withToken?: ((token: string) => TokenSink) | undefined;
}

export function createSinks(definitions: readonly SinkDefinition[], environment: SinkEnvironment): ConfiguredSink[] {
  return definitions.map((definition) => {
    const factory = factories[definition.kind] as Factory<SinkDefinition['kind']>;
    const filter = definition.filter && compileFilter(definition.filter);
    const build = (env: SinkEnvironment): TokenSink => {
      const sink = factory(definition, env);
      const dispose = () => (sink as Partial<{ dispose(): void }>).dispose?.();
      return { sink: filter ? filteredSink(sink, filter) : sink, dispose };
    };
    const tokenSetting = tokenSettingOf(definition);
    const withToken =
      tokenSetting === undefined ? undefined : (token: string) => build({ ...environment, secret: (name) => (name === tokenSetting ? token : environment.secret(name)) });
    return Object.assign(build(environment).sink, { tenants: definition.tenants, withToken });
  });
}

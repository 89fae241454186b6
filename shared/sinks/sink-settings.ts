// One zod schema configures every sink (O365_SINKS, a JSON array): kind, its own settings, and routing. Secrets are
// never inline: a sink names the setting that holds its secret, and the factory reads it.
import { z } from 'zod';
import { FilterConfig } from '../records/filters';
import { HttpsJsonSinkSettings } from './https-json-sink';
import { SentinelSinkSettings } from './sentinel-sink';
import { SplunkHecSinkSettings } from './splunk-hec-sink';
import { SyslogSinkSettings } from './syslog-sink';

const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What every sink has: its name (used in the ledger, the dead letter and logs) and its routing. */
export const SinkRouting = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, { error: 'name: 1-40 lower-case letters, digits and hyphens' }),
  /**
   * Tenants this sink serves exclusively. A tenant named by any sink goes only to the sinks that name it (an MSP
   * keeps customer A's events in A's SIEM); sinks that name no tenant serve every other tenant.
   */
  tenants: z.array(z.string().regex(guid, { error: 'tenants: GUIDs' }).transform((t) => t.toLowerCase())).min(1).optional(),
  /** Only events matching this filter go to the sink (on top of the app-wide filter). */
  filter: FilterConfig.optional(),
});

export const BlobSinkSettings = z.object({
  container: z.string().regex(/^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/, { error: 'container: a blob container name' }),
  format: z.enum(['line', 'json']).default('line'),
});

/**
 * Each kind: its module's own settings, plus the kind and the routing fields. Strict: a misspelt key (`tenant` for
 * `tenants`, `filters` for `filter`) would otherwise be dropped in silence and route or filter nothing.
 */
export const SinkDefinition = z.discriminatedUnion('kind', [
  BlobSinkSettings.extend({ kind: z.literal('blob'), ...SinkRouting.shape }).strict(),
  HttpsJsonSinkSettings.extend({ kind: z.literal('https-json'), ...SinkRouting.shape }).strict(),
  SplunkHecSinkSettings.extend({ kind: z.literal('splunk-hec'), ...SinkRouting.shape }).strict(),
  SyslogSinkSettings.extend({ kind: z.literal('syslog'), ...SinkRouting.shape }).strict(),
  SentinelSinkSettings.extend({ kind: z.literal('sentinel'), ...SinkRouting.shape }).strict(),
]);
export type SinkDefinition = z.infer<typeof SinkDefinition>;

export const SinkDefinitions = z
  .array(SinkDefinition)
  .min(1)
  .superRefine((sinks, ctx) => {
    const seen = new Set<string>();
    for (const sink of sinks) {
      if (seen.has(sink.name)) ctx.addIssue({ code: 'custom', message: `sink name ${sink.name} is used twice` });
      seen.add(sink.name);
    }
  });

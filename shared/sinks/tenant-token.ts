// A tenant's own SIEM token for a sink (its registry row's sinkTokens), read through its reference each time one
// of its blobs is opened: the resolver keeps the value for its TTL, so a rotated secret is used without a restart.
// The sink is built once per token value (its own connections), the one it replaces closed after a grace period.
// A reference that cannot be read fails that tenant's share of the blob as waiting can help: the blob waits, as
// with a SIEM outage, and the other sinks and tenants go on. The reference is logged once, never a value.
import { errorFields, type Logger } from '../log';
import type { SecretResolver } from '../settings/secret-reference';
import type { Telemetry } from '../telemetry';
import type { ConfiguredSink, TokenSink } from './create-sinks';
import { SinkError, type Sink } from './sink';

export interface TenantTokenDeps {
  resolver: SecretResolver;
  /** Resolved tokens are remembered here, so no log line can carry one. */
  logger: Logger;
  telemetry: Telemetry;
  /** How long a replaced sink keeps its connections for writers still using it (longer than a function runs). */
  graceMs?: number;
}

export interface TenantTokens {
  /** `sink` sending the token `reference` names, for one tenant's blobs. */
  sinkFor(sink: ConfiguredSink, tenantId: string, reference: string): Sink;
}

export function createTenantTokens(deps: TenantTokenDeps): TenantTokens {
  const graceMs = deps.graceMs ?? 15 * 60_000;
  const built = new Map<string, { token: string; sink: TokenSink }>();
  /** References whose failure is logged already: once until they resolve again. */
  const failing = new Set<string>();

  async function tokenFor(sink: ConfiguredSink, tenantId: string, reference: string): Promise<string> {
    const key = `${sink.name}\n${reference}`;
    try {
      const token = await deps.resolver.resolve(reference);
      failing.delete(key);
      deps.logger.remember([token]);
      return token;
    } catch (err) {
      deps.telemetry.metric('sinks.tokenUnresolved', 1, { tenantId, sink: sink.name });
      if (!failing.has(key)) {
        failing.add(key);
        deps.logger.error("tenant's sink token not resolved: its blobs wait for it at this sink", { tenantId, sink: sink.name, reference, ...errorFields(err) });
      }
      // The resolver's message names the reference, never a value.
      throw new SinkError(sink.name, `sink ${sink.name}: the token of tenant ${tenantId} is not resolved: ${(err as Error).message}`, true, 'SINK_TOKEN_UNRESOLVED', { cause: err });
    }
  }

  return {
    sinkFor(sink, tenantId, reference) {
      return {
        name: sink.name,
        async open(content, options) {
          if (sink.withToken === undefined) {
            throw new SinkError(sink.name, `sink ${sink.name} sends no token: tenant ${tenantId}'s sinkTokens entry for it cannot be used (fix its registry row)`, false, 'SINK_CONFIGURATION');
          }
          const token = await tokenFor(sink, tenantId, reference);
          const key = `${sink.name}\n${reference}`;
          let entry = built.get(key);
          if (entry?.token !== token) {
            const replaced = entry;
            entry = { token, sink: sink.withToken(token) };
            built.set(key, entry);
            if (replaced) setTimeout(() => replaced.sink.dispose(), graceMs).unref();
          }
          return entry.sink.sink.open(content, options);
        },
      };
    },
  };
}

// Which sinks a tenant's events go to (pure): the sinks its registry row names, else the sinks that name the
// tenant, or else every sink that names none.

export interface Routed {
  name: string;
  tenants?: readonly string[] | undefined;
}

export function sinksForTenant<T extends Routed>(sinks: readonly T[], tenantId: string, named: readonly string[] = []): T[] {
  // Named sinks are the only ones: never another customer's default sinks, even when a name has gone (empty then).
  if (named.length > 0) return sinks.filter((s) => named.includes(s.name));
  const tenant = tenantId.toLowerCase();
  const dedicated = sinks.filter((s) => s.tenants?.includes(tenant));
  return dedicated.length > 0 ? dedicated : sinks.filter((s) => s.tenants === undefined);
}

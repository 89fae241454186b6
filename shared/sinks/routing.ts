// Which sinks a tenant's events go to (pure): the sinks that name the tenant, or else every sink that names none.

export interface Routed {
  name: string;
  tenants?: readonly string[] | undefined;
}

export function sinksForTenant<T extends Routed>(sinks: readonly T[], tenantId: string): T[] {
  const tenant = tenantId.toLowerCase();
  const dedicated = sinks.filter((s) => s.tenants?.includes(tenant));
  return dedicated.length > 0 ? dedicated : sinks.filter((s) => s.tenants === undefined);
}

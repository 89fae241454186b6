// The app settings that point a client at a running simulator: one app's identity plus the loopback overrides.

export interface SimulatorClient {
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

export function simulatorClientSettings(sim: { baseUrl: string; authorityHost: string; caCertPath: string }, app: SimulatorClient): Record<string, string> {
  return {
    O365_TENANT_ID: app.tenantId,
    O365_CLIENT_ID: app.clientId,
    O365_CLIENT_SECRET: app.clientSecret,
    O365_API_BASE_URL: sim.baseUrl,
    O365_AUTHORITY_HOST: sim.authorityHost,
    O365_CA_FILE: sim.caCertPath,
  };
}

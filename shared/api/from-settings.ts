// Wiring: the client, its HTTP client and its credentials, from the API settings. The one place that reads the
// simulator's CA file (allowed by the settings only with loopback overrides, outside Azure).
import { readFileSync } from 'node:fs';
import type { Logger } from '../log.js';
import type { ApiSettings } from '../config.js';
import { createManagementClient, type ManagementClient, type ManagementClientOptions } from './client.js';
import { systemClock } from './clock.js';
import { createTokenSource } from './credentials.js';
import { createHttpTransport } from './http.js';

export function createClientFromSettings(
  settings: ApiSettings,
  extra: Partial<Omit<ManagementClientOptions, 'endpoints' | 'tokens' | 'publisherId' | 'http'>> & { logger?: Logger } = {},
): ManagementClient {
  const ca = settings.caFile === undefined ? undefined : readFileSync(settings.caFile, 'utf8');
  const http = createHttpTransport({ ca });
  const clock = extra.clock ?? systemClock;
  const tokens = createTokenSource(settings.credential, settings.endpoints, { agent: http.agent, clock });
  const client = createManagementClient({
    ...extra,
    endpoints: settings.endpoints,
    tokens,
    publisherId: settings.publisherId,
    http,
    clock,
    requestsPerMinute: extra.requestsPerMinute ?? settings.requestsPerMinute,
  });
  return { ...client, close: () => http.close() };
}

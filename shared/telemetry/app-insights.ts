// Telemetry on Application Insights, chosen only when APPLICATIONINSIGHTS_CONNECTION_STRING is set: the SDK costs
// ~0.4 s and ~2,700 modules to import and throws when used unconfigured, so it is imported lazily, never in tests.
// Calls made before the import finished are kept (bounded) and sent once it has.
import type { Telemetry } from '../telemetry';

/** The slice of the applicationinsights 3.x module this file uses. */
interface AppInsightsModule {
  setup(connectionString?: string): { setAutoCollectConsole(value: boolean, collectConsoleLog?: boolean): unknown; setSendLiveMetrics(value: boolean): unknown; start(): unknown };
  defaultClient: {
    trackMetric(telemetry: { name: string; value: number; properties?: Record<string, string> }): void;
    trackEvent(telemetry: { name: string; properties?: Record<string, string> }): void;
  };
}

/** The two calls of the SDK's TelemetryClient this adapter makes. */
export type AppInsightsClient = AppInsightsModule['defaultClient'];

type Call = (client: AppInsightsClient) => void;

/** Calls kept while the SDK loads; past this a burst at cold start is dropped rather than held in memory. */
const maxPending = 10_000;

export const connectionStringSetting = 'APPLICATIONINSIGHTS_CONNECTION_STRING';

/** A Telemetry that forwards to whatever `load` resolves to; calls before that are queued, after a failure dropped. */
export function deferredTelemetry(load: () => Promise<AppInsightsClient>, onError: (err: unknown) => void = () => undefined): Telemetry {
  let client: AppInsightsClient | undefined;
  let failed = false;
  const pending: Call[] = [];
  // Telemetry never fails the work it reports on: an SDK error is swallowed here.
  const send = (call: Call, to: AppInsightsClient) => {
    try {
      call(to);
    } catch {
      /* dropped */
    }
  };
  const run = (call: Call) => {
    if (client) return send(call, client);
    if (!failed && pending.length < maxPending) pending.push(call);
  };
  load().then(
    (loaded) => {
      client = loaded;
      for (const call of pending.splice(0)) send(call, loaded);
    },
    (err: unknown) => {
      failed = true;
      pending.length = 0;
      onError(err);
    },
  );
  return {
    metric: (name, value, properties) => run((c) => c.trackMetric({ name, value, ...(properties ? { properties } : {}) })),
    event: (name, properties) => run((c) => c.trackEvent({ name, ...(properties ? { properties } : {}) })),
  };
}

/** Application Insights telemetry, or undefined when no connection string is configured. */
export function appInsightsTelemetry(env: NodeJS.ProcessEnv = process.env, onError?: (err: unknown) => void): Telemetry | undefined {
  const connectionString = env[connectionStringSetting];
  if (!connectionString) return undefined;
  return deferredTelemetry(async () => {
    const loaded = (await import('applicationinsights')) as unknown as AppInsightsModule & { default?: AppInsightsModule };
    // Node's namespace for a CommonJS module is a snapshot (its defaultClient stays undefined after setup): read
    // the live module.exports (`default`). An esbuild bundle has no `default` here, and live getters instead.
    const ai = loaded.default ?? loaded;
    // Console lines are already collected by the Functions host; live metrics are not needed for the relay.
    const config = ai.setup(connectionString);
    config.setAutoCollectConsole(false);
    config.setSendLiveMetrics(false);
    config.start();
    return ai.defaultClient;
  }, onError);
}

// The clouds as data (reference §1, enums.json Clouds): where the API lives, who signs tokens, which scope.
// Overrides exist only so the local simulator can stand in for a cloud; they are loopback-only by construction.
import { z } from 'zod';

export const cloudNames = ['Enterprise', 'GCC', 'GCCHigh', 'DoD'] as const;
export const CloudName = z.enum(cloudNames);
export type CloudName = z.infer<typeof CloudName>;

export interface Cloud {
  /** Origin of the API, `https://<manage host>` (no trailing slash, no port). */
  readonly apiBase: string;
  /** Entra authority host used to sign in. */
  readonly authorityHost: string;
  /** The token scope: the API's own origin (the API checks the audience), even when the base is overridden. */
  readonly scope: string;
  /**
   * Audience of the managed identity token a federated identity credential accepts (Microsoft Learn, "Configure an
   * application to trust a managed identity": public cloud vs Fairfax, where GCC High and DoD sign in).
   */
  readonly tokenExchangeAudience: string;
}

export const clouds: Readonly<Record<CloudName, Cloud>> = {
  Enterprise: {
    apiBase: 'https://manage.office.com',
    authorityHost: 'https://login.microsoftonline.com',
    scope: 'https://manage.office.com/.default',
    tokenExchangeAudience: 'api://AzureADTokenExchange',
  },
  GCC: {
    apiBase: 'https://manage-gcc.office.com',
    authorityHost: 'https://login.microsoftonline.com',
    scope: 'https://manage-gcc.office.com/.default',
    tokenExchangeAudience: 'api://AzureADTokenExchange',
  },
  GCCHigh: {
    apiBase: 'https://manage.office365.us',
    authorityHost: 'https://login.microsoftonline.us',
    scope: 'https://manage.office365.us/.default',
    tokenExchangeAudience: 'api://AzureADTokenExchangeUSGov',
  },
  DoD: {
    apiBase: 'https://manage.protection.apps.mil',
    authorityHost: 'https://login.microsoftonline.us',
    scope: 'https://manage.protection.apps.mil/.default',
    tokenExchangeAudience: 'api://AzureADTokenExchangeUSGov',
  },
};

/** Where this process talks to: the cloud, possibly with the API and sign-in moved to a local simulator. */
export interface Endpoints {
  readonly cloud: CloudName;
  /** Origin every API request goes to, exactly as the URL guard compares it (`https://host[:port]`). */
  readonly apiOrigin: string;
  readonly authorityHost: string;
  readonly scope: string;
  readonly tokenExchangeAudience: string;
  /** True when apiOrigin or authorityHost point at a local simulator. */
  readonly simulated: boolean;
}

export interface EndpointOverrides {
  apiBaseUrl?: string | undefined;
  authorityHost?: string | undefined;
}

const loopbackHosts = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** A canonical `https://host[:port]` origin for a loopback URL, or a reason it is refused. */
export function loopbackOrigin(value: string): { ok: true; origin: string } | { ok: false; reason: string } {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { ok: false, reason: 'is not a URL' };
  }
  if (url.protocol !== 'https:') return { ok: false, reason: 'must use https' };
  if (!loopbackHosts.has(url.hostname)) return { ok: false, reason: 'must point at loopback (127.0.0.1, [::1] or localhost)' };
  if (url.username || url.password || url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) {
    return { ok: false, reason: 'must be an origin only (https://127.0.0.1:<port>), without path, query or credentials' };
  }
  return { ok: true, origin: url.origin };
}

/**
 * The endpoints for a cloud. Overrides must be loopback origins and are refused in Azure (App Service sets
 * WEBSITE_INSTANCE_ID); the settings check the same, this is the second line.
 */
export function resolveEndpoints(
  cloud: CloudName,
  overrides: EndpointOverrides = {},
  runningInAzure = Boolean(process.env['WEBSITE_INSTANCE_ID']),
): Endpoints {
  const base = clouds[cloud];
  const pick = (value: string | undefined, fallback: string, name: string): string => {
    if (value === undefined) return fallback;
    if (runningInAzure) throw new Error(`${name} is for the local simulator only and is refused when running in Azure`);
    const checked = loopbackOrigin(value);
    if (!checked.ok) throw new Error(`${name} ${checked.reason}`);
    return checked.origin;
  };
  const apiOrigin = pick(overrides.apiBaseUrl, base.apiBase, 'the API base override');
  const authorityHost = pick(overrides.authorityHost, base.authorityHost, 'the authority override');
  return {
    cloud,
    apiOrigin,
    authorityHost,
    scope: base.scope,
    tokenExchangeAudience: base.tokenExchangeAudience,
    simulated: overrides.apiBaseUrl !== undefined || overrides.authorityHost !== undefined,
  };
}

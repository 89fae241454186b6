// The one settings loader, shared by the Functions app and the CLI: ONE zod schema over the environment (plus an
// optional local.settings.json `Values` block; the environment wins). The schema is a table of sections, each
// reading the settings it owns (shared/settings/*-section.ts); add a section (webhook, sinks, schedules, ...) to
// `settingsSections` and it is parsed, typed and reported with the rest. A bad or missing setting stops with its
// name and what is wrong — never its value, so a secret cannot leak through an error.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { apiSettingsSection } from './settings/api-section.js';
import { relaySettingsSection } from './settings/relay-section.js';

export { apiSettingsSection, type ApiSettings } from './settings/api-section.js';
export { relaySettingsSection, type RelaySettings } from './settings/relay-section.js';

export type Env = Record<string, string | undefined>;

export interface ConfigProblem {
  /** The setting's name, e.g. O365_TENANT_ID (or local.settings.json). */
  setting: string;
  problem: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly code = 'CONFIG';
  readonly retryable = false;
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super(`Settings are not valid:\n${problems.map((p) => `  ${p.setting}: ${p.problem}`).join('\n')}`);
    this.problems = problems;
  }
}

/** The sections of the settings; each reads the whole environment and owns its own names. Add new ones here. */
export const settingsSections = {
  api: apiSettingsSection,
  relay: relaySettingsSection,
} as const;

/** The one schema: `{ [section]: environment }` in, typed settings per section out. */
export const settingsSchema = z.object(settingsSections);
export type Settings = z.infer<typeof settingsSchema>;

function problemsOf(error: z.ZodError): ConfigProblem[] {
  return error.issues.map((issue) => {
    // Paths are [section, SETTING_NAME, ...]; a cross-field issue names its setting the same way.
    const name = issue.path.find((p, i) => i > 0 && typeof p === 'string') ?? issue.path[0] ?? 'settings';
    const problem = issue.code === 'invalid_type' && issue.input === undefined ? 'is required' : issue.message;
    return { setting: String(name), problem };
  });
}

/** In Azure an app setting whose Key Vault reference did not resolve arrives as the reference text itself. */
const unresolvedKeyVaultReference = /^\s*@Microsoft\.KeyVault\(/i;

/** Parses settings from an environment-like record. Throws ConfigError naming every bad setting. */
export function parseSettings(env: Env): Settings {
  const unresolved = Object.entries(env).filter(([, value]) => value !== undefined && unresolvedKeyVaultReference.test(value));
  if (unresolved.length > 0) {
    throw new ConfigError(
      unresolved.map(([setting]) => ({
        setting,
        problem: "is a Key Vault reference that did not resolve: give the app's identity Key Vault Secrets User and check the secret URI",
      })),
    );
  }
  const input = Object.fromEntries(Object.keys(settingsSections).map((section) => [section, env]));
  const parsed = settingsSchema.safeParse(input);
  if (!parsed.success) throw new ConfigError(problemsOf(parsed.error));
  if (parsed.data.api.tenantTableNamed && parsed.data.relay.storage === undefined) {
    throw new ConfigError([{ setting: 'O365_TENANT_REGISTRY', problem: "names a table in the app's storage: set AzureWebJobsStorage (or AzureWebJobsStorage__accountName)" }]);
  }
  const unknownTenants = parsed.data.relay.tenants.filter((t) => !parsed.data.api.tenantIds.includes(t.tenantId));
  if (unknownTenants.length > 0) {
    throw new ConfigError([{ setting: 'O365_TENANTS', problem: `names tenants that are not in O365_TENANT_ID: ${unknownTenants.map((t) => t.tenantId).join(', ')}` }]);
  }
  return parsed.data;
}

export interface LoadSettingsOptions {
  env?: Env;
  /** A local.settings.json whose `Values` fill in what the environment lacks. Default: ./local.settings.json if
   * present; null to skip. */
  localSettingsFile?: string | null;
}

/** The `Values` of a local.settings.json, as text settings. */
export function readLocalSettings(file: string): Env {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw new ConfigError([{ setting: path.basename(file), problem: 'cannot be read as JSON' }]);
  }
  const shape = z
    .object({
      IsEncrypted: z.boolean().optional(),
      Values: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
    })
    .safeParse(parsed);
  if (!shape.success) throw new ConfigError([{ setting: path.basename(file), problem: 'has no valid "Values" object' }]);
  if (shape.data.IsEncrypted) {
    throw new ConfigError([{ setting: path.basename(file), problem: 'is encrypted; decrypt it (func settings decrypt) or use the environment' }]);
  }
  return Object.fromEntries(Object.entries(shape.data.Values ?? {}).map(([k, v]) => [k, String(v)]));
}

/** The environment with a local.settings.json `Values` block filling in what it lacks. */
function mergedEnvironment(options: LoadSettingsOptions): Env {
  const env = options.env ?? process.env;
  const file = options.localSettingsFile === undefined ? path.resolve('local.settings.json') : options.localSettingsFile;
  const fromFile = file !== null && existsSync(file) ? readLocalSettings(file) : {};
  const merged: Env = { ...fromFile };
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value.trim() !== '') merged[key] = value;
  }
  return merged;
}

export function loadSettings(options: LoadSettingsOptions = {}): Settings {
  return parseSettings(mergedEnvironment(options));
}

/** One setting's value, from the same sources as loadSettings (for secrets named by other settings). */
export function settingValue(name: string, options: LoadSettingsOptions = {}): string {
  const value = mergedEnvironment(options)[name];
  if (value === undefined || value.trim() === '') throw new ConfigError([{ setting: name, problem: 'is not set' }]);
  return value.trim();
}
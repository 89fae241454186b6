// The flags `tenants add` and `tenants set` share, as one zod schema checked against the deployment: sinks named in
// O365_SINKS, references only (a setting name that is set, or a Key Vault secret URI), sink tokens only for sinks
// that send one. Each problem names its flag, never the text given: a reference may be a secret pasted by mistake.
import { z } from 'zod';
import { SecretReference, type TenantEdit } from '../shared/pipeline/tenants';
import { tokenSettingOf } from '../shared/sinks/create-sinks';
import type { SinkDefinition } from '../shared/sinks/sink-settings';
import { chosenContentTypes } from './api-session';

export interface FlagContext {
  sinks: readonly SinkDefinition[];
  /** A setting's value, undefined when it is not set. */
  setting(name: string): string | undefined;
}

/** What parseArgs hands over for these flags. */
export interface TenantFlagValues {
  name?: string | undefined;
  'content-type': string[];
  sink: string[];
  'auth-id-ref'?: string | undefined;
  'no-auth-id-ref'?: boolean | undefined;
  'sink-token': string[];
  'no-sink-token': string[];
}

const referenceForm = 'a setting name or a Key Vault secret URI (https://<vault>.vault.azure.net/secrets/<name>)';

export function tenantFlags(context: FlagContext) {
  const names = context.sinks.map((s) => s.name);
  const known = `O365_SINKS has ${names.join(', ') || 'no sink'}`;
  const definitionOf = (name: string) => context.sinks.find((s) => s.name === name);
  return z
    .object({
      name: z.string().trim().min(1, { error: 'must not be empty' }).max(256, { error: 'at most 256 characters' }).optional(),
      'content-type': z.array(z.string()),
      sink: z.array(z.string()),
      'auth-id-ref': z.string().optional(),
      'no-auth-id-ref': z.boolean().optional(),
      'sink-token': z.array(z.string()),
      'no-sink-token': z.array(z.string()),
    })
    .superRefine((v, ctx) => {
      const issue = (flag: string, message: string) => ctx.addIssue({ code: 'custom', path: [flag], message });
      for (const name of v.sink) if (definitionOf(name) === undefined) issue('sink', `${JSON.stringify(name)} is not a sink of O365_SINKS (${known})`);
      const ref = v['auth-id-ref'];
      if (ref !== undefined) {
        if (v['no-auth-id-ref']) issue('auth-id-ref', 'give --auth-id-ref or --no-auth-id-ref, not both');
        const parsed = SecretReference.safeParse(ref);
        if (!parsed.success) issue('auth-id-ref', `must be ${referenceForm}; never the authId itself`);
        // Not named: an authId pasted by mistake can look like a setting name.
        else if (parsed.data.kind === 'setting' && (context.setting(parsed.data.name)?.length ?? 0) < 16) {
          issue('auth-id-ref', 'the setting it names must hold an authId of at least 16 characters (give a setting name or a Key Vault secret URI, never the authId itself)');
        }
      }
      const tokenSinks = new Set<string>();
      for (const entry of v['sink-token']) {
        const at = entry.indexOf('=');
        const sink = at < 0 ? undefined : entry.slice(0, at);
        const definition = sink === undefined ? undefined : definitionOf(sink);
        // Only a known sink name is echoed: without '=' the whole entry may be a token.
        if (sink === undefined || definition === undefined) {
          issue('sink-token', `write SINK=REFERENCE with SINK a sink of O365_SINKS (${known})`);
          continue;
        }
        tokenSinks.add(sink);
        if (tokenSettingOf(definition) === undefined) issue('sink-token', `${sink}: this ${definition.kind} sink sends no token (only https-json sinks with tokenSetting and splunk-hec sinks do)`);
        const parsed = SecretReference.safeParse(entry.slice(at + 1));
        if (!parsed.success) issue('sink-token', `${sink}: the reference must be ${referenceForm}; never the token itself`);
        // Not named either: a token pasted by mistake can look like a setting name.
        else if (parsed.data.kind === 'setting' && context.setting(parsed.data.name) === undefined) issue('sink-token', `${sink}: the setting it names is not set (give a setting name or a Key Vault secret URI, never the token itself)`);
      }
      // A sink gone from O365_SINKS may still be named here: taking its token away is how its row is cleaned.
      for (const sink of v['no-sink-token']) {
        // Not echoed: `SINK=REFERENCE` given here by mistake may carry a pasted token.
        if (sink === '' || sink.includes('=')) issue('no-sink-token', 'expects a sink name only (no =REFERENCE)');
        else if (tokenSinks.has(sink)) issue('no-sink-token', `${sink}: give --sink-token or --no-sink-token for it, not both`);
      }
    })
    .transform((v): TenantEdit => {
      const sinkTokens: Record<string, string | null> = {};
      for (const entry of v['sink-token']) sinkTokens[entry.slice(0, entry.indexOf('='))] = entry.slice(entry.indexOf('=') + 1);
      for (const sink of v['no-sink-token']) sinkTokens[sink] = null;
      const contentTypes = chosenContentTypes(v['content-type'], []);
      return {
        ...(v.name === undefined ? {} : { displayName: v.name }),
        ...(contentTypes.length === 0 ? {} : { contentTypes }),
        ...(v.sink.length === 0 ? {} : { sinks: v.sink }),
        ...(v['auth-id-ref'] !== undefined ? { authIdRef: v['auth-id-ref'] } : v['no-auth-id-ref'] ? { authIdRef: null } : {}),
        ...(Object.keys(sinkTokens).length === 0 ? {} : { sinkTokens }),
      };
    });
}

/** The flags as an edit, or one line per problem, each starting with its flag (`--sink-token: ...`). */
export function readTenantFlags(context: FlagContext, values: TenantFlagValues): { ok: true; edit: TenantEdit } | { ok: false; problems: string[] } {
  const parsed = tenantFlags(context).safeParse(values);
  if (parsed.success) return { ok: true, edit: parsed.data };
  return { ok: false, problems: parsed.error.issues.map((i) => `--${String(i.path[0] ?? '(flags)')}: ${i.message}`) };
}

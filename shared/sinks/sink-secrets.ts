// Sinks name the settings that hold their credentials (`tokenSetting`, `tls.keySetting`, `clientSecretSetting`,
// ...). The loader checks every named setting is set; the logger redacts the values of the secret ones.

const secretKey = /(token|secret|key|password)Setting$/i;

function namedSettings(sinks: readonly object[], keep: (key: string) => boolean): string[] {
  const names = new Set<string>();
  const visit = (value: unknown): void => {
    if (value === null || typeof value !== 'object') return;
    for (const [key, inner] of Object.entries(value)) {
      if (key.endsWith('Setting') && typeof inner === 'string') {
        if (keep(key)) names.add(inner);
      } else visit(inner); // nested settings, e.g. a syslog sink's tls.keySetting
    }
  };
  sinks.forEach(visit);
  return [...names];
}

/** Every setting a sink names (CA, tenant id, token, key, ...). */
export const settingNamesOf = (sinks: readonly object[]): string[] => namedSettings(sinks, () => true);

/** The named settings whose values are secrets (tokens, keys, passwords), to redact. */
export const secretSettingNames = (sinks: readonly object[]): string[] => namedSettings(sinks, (key) => secretKey.test(key));

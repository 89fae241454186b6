// Sinks name the settings that hold their secrets (`tokenSetting`, `clientSecretSetting`, ...): these are the names,
// so the settings loader can check they are set and the logger can redact their values.

export function secretSettingNames(sinks: readonly object[]): string[] {
  const names = new Set<string>();
  const visit = (value: unknown): void => {
    if (value === null || typeof value !== 'object') return;
    for (const [key, inner] of Object.entries(value)) {
      if (key.endsWith('Setting') && typeof inner === 'string') names.add(inner);
      else visit(inner); // nested settings, e.g. a syslog sink's tls.keySetting
    }
  };
  sinks.forEach(visit);
  return [...names];
}

// Sinks name the settings that hold their secrets (`tokenSetting`, `clientSecretSetting`, ...): these are the names,
// so the settings loader can check they are set and the logger can redact their values.

export function secretSettingNames(sinks: readonly object[]): string[] {
  const names = new Set<string>();
  for (const sink of sinks) {
    for (const [key, value] of Object.entries(sink)) if (key.endsWith('Setting') && typeof value === 'string') names.add(value);
  }
  return [...names];
}

// A record names its own keys, and any of them can be `__proto__`, `constructor` or `toString`. Tables looked up by
// record data are Maps; objects built from a record's keys get them as own data properties, because a plain
// assignment `out['__proto__'] = v` would change the object's prototype and lose the field.

/** Sets `key` on `target` as an own, enumerable data property, whatever the key's name. */
export function defineField(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

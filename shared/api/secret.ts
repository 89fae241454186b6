// A value that must never be printed: JSON, string conversion and util.inspect all show `[redacted]`, so a
// subscription answer carrying a webhook authId can be logged or printed as is. Only reveal() gives the value.
import { inspect } from 'node:util';

export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  equals(other: string): boolean {
    return other === this.#value;
  }
  toJSON(): string {
    return '[redacted]';
  }
  toString(): string {
    return '[redacted]';
  }
  [inspect.custom](): string {
    return '[redacted]';
  }
}

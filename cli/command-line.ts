// Options parsing for every command: node's parseArgs, with its errors turned into usage errors (exit 1, one line).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './usage-error';

export function parseCommandLine<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

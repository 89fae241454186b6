// Paths into the read-only shared fixtures beside the checkout (tests only; the app never reads them).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const repoRoot = path.resolve(__dirname, '..', '..', '..');
export const sharedDir = path.resolve(repoRoot, '..', 'shared');
export const fixturesDir = path.join(sharedDir, 'fixtures');

export function fixturePath(...parts: string[]): string {
  return path.join(fixturesDir, ...parts);
}

export function readFixture<T = unknown>(...parts: string[]): T {
  return JSON.parse(readFileSync(fixturePath(...parts), 'utf8')) as T;
}

/** Every record-array fixture under content/, edge/ and msdocs/. */
export function recordFixtureFiles(): string[] {
  return ['content', 'edge', 'msdocs'].flatMap((dir) =>
    readdirSync(fixturePath(dir))
      .filter((f) => f.endsWith('.json'))
      .map((f) => fixturePath(dir, f)),
  );
}

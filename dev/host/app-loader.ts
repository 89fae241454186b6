// Finds and loads the app like the worker does (startApp.ts): package.json `main` is a glob (e.g.
// `dist/src/{index.js,functions/*.js}`) resolved in the app root, and every match is required in order.
// `appPath` is an app root directory (with package.json), a file, or a glob relative to `cwd`.
import { existsSync, globSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';

const packageJsonSchema = z.object({ main: z.string().min(1) }).loose();

export interface AppLocation {
  /** Directory the app's relative paths (host.json, local.settings.json) live in. */
  root: string;
  files: string[];
}

export function locateApp(appPath: string, cwd: string): AppLocation {
  const absolute = isAbsolute(appPath) ? appPath : resolve(cwd, appPath);
  if (existsSync(absolute) && statSync(absolute).isDirectory()) {
    const pkg = packageJsonSchema.safeParse(JSON.parse(readFileSync(join(absolute, 'package.json'), 'utf8')));
    if (!pkg.success) throw new Error(`${join(absolute, 'package.json')} needs a "main" naming the built app (a file or glob).`);
    return { root: absolute, files: expand(pkg.data.main, absolute) };
  }
  return { root: cwd, files: expand(appPath, cwd) };
}

function expand(pattern: string, cwd: string): string[] {
  // Shallower files first, as the worker's globby walk yields them: `dist/{index.js,functions/*.js}` loads index.js
  // (telemetry set-up, app.setup) before the functions.
  const depth = (f: string) => f.split(/[\\/]/).length;
  const files = globSync(pattern, { cwd }).map((f) => resolve(cwd, f)).sort((a, b) => depth(a) - depth(b) || a.localeCompare(b));
  if (files.length === 0) throw new Error(`No app files match "${pattern}" in ${cwd}. Build the app first?`);
  return files;
}

/** CommonJS only: the `@azure/functions-core` shim hooks `require`, as the worker does. */
export function loadApp(files: readonly string[]): void {
  for (const file of files) {
    if (file.endsWith('.mjs')) throw new Error(`${file}: ES modules are not supported by the dev host.`);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(file);
  }
}

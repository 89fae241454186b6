// The deployable app: one esbuild bundle of functions/index.ts (package.json main points at it). The Functions
// worker provides @azure/functions-core at run time, so it stays external.
const path = require('node:path');
const esbuild = require('esbuild');

esbuild.buildSync({
  entryPoints: [path.join(__dirname, '..', 'functions', 'index.ts')],
  outfile: path.join(__dirname, '..', 'bundle', 'main.js'),
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  sourcemap: true,
  external: ['@azure/functions-core'],
  logLevel: 'warning',
});

// tsc does not keep the executable bit; npm links the bin but a direct ./dist/cli/main.js call needs it.
const fs = require('node:fs');
const path = require('node:path');
const bin = path.join(__dirname, '..', 'dist', 'cli', 'main.js');
if (fs.existsSync(bin)) fs.chmodSync(bin, 0o755);

#!/usr/bin/env node
// The CLI as compiled JavaScript (dist/, built by `npm run build`; `npm install` in a checkout runs it as part of
// `prepare`, and the published package ships it). Plain Node runs it: no TypeScript loader at run time.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('otesse-sync: dist/ is missing; build it with `npm run build` (npm install does too)\n');
  process.exit(1);
}
// In a source checkout (the package ships no src/), say so when src/ has changed since dist/ was built.
const src = fileURLToPath(new URL('../src/', import.meta.url));
if (existsSync(src)) {
  const built = statSync(main).mtimeMs;
  const changed = readdirSync(src, { recursive: true }).some(
    (f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && statSync(join(src, f)).mtimeMs > built,
  );
  if (changed)
    process.stderr.write('otesse-sync: src/ has changed since dist/ was built; `npm run build` updates it\n');
}
await import(main.href);

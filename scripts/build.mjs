#!/usr/bin/env node
/**
 * `npm run build` (also part of `prepare`, so `npm install` in a checkout runs it): compiles the library
 * (src/index.ts) and the CLI (src/cli/main.ts), with every module they import, to JavaScript and `.d.ts` in
 * dist/ (tsconfig.build.json; dist/ mirrors src/), then copies the files the code reads at run time (every
 * non-TypeScript file under src/: the SQL migrations) to the same place under dist/. dist/ is emptied first, so
 * a module deleted from src/ cannot linger in the package.
 *
 * Plain JavaScript on purpose: it runs on every Node the package supports, before anything is built.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = join(root, 'src');
const dist = join(root, 'dist');

rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });

let assets = 0;
for (const entry of readdirSync(src, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || entry.name.endsWith('.ts')) continue;
  const from = join(entry.parentPath, entry.name);
  const to = join(dist, from.slice(src.length + 1));
  cpSync(from, to);
  assets++;
}
console.log(`dist/: built; ${assets} asset file(s) copied from src/`);

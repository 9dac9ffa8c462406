#!/usr/bin/env node
// The CLI as compiled JavaScript (dist/, built by `npm run build`; `npm install` in a checkout runs it as part of
// `prepare`, and the published package ships it). Plain Node runs it: no TypeScript loader at run time.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Long-running commands on Linux: glibc keeps what V8's background compilers free (TurboFan compiling PGlite's
// WebAssembly and hot JavaScript, in zone segments of up to 32 KiB, in one malloc arena per thread) in those
// arenas for good: 60–90 MB of an idle `serve` on PGlite. A fixed mmap threshold of 32 KiB makes such blocks
// mapped on their own and handed back to the system when freed (idle `serve` on PGlite: ~170 MB instead of ~245).
// glibc reads it only as a process starts, so the process replaces itself once (execve: same pid, same stdio)
// with it set. OTESSE_SYNC_MALLOC_TUNING=off keeps the process as started; a threshold of one's own
// (GLIBC_TUNABLES or MALLOC_MMAP_THRESHOLD_) is left alone. Elsewhere (macOS, musl) nothing changes.
if (
  process.platform === 'linux' &&
  typeof process.execve === 'function' &&
  (process.argv[2] === 'serve' || process.argv[2] === 'worker') &&
  process.env.OTESSE_SYNC_MALLOC_TUNING !== 'off' &&
  process.env.MALLOC_MMAP_THRESHOLD_ === undefined &&
  !(process.env.GLIBC_TUNABLES ?? '').includes('glibc.malloc.mmap_threshold') &&
  process.send === undefined // an IPC channel to a parent would not survive the exec
) {
  const tunables = [process.env.GLIBC_TUNABLES, 'glibc.malloc.mmap_threshold=32768'].filter(Boolean).join(':');
  process.execve(
    process.execPath,
    [process.execPath, ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    { ...process.env, GLIBC_TUNABLES: tunables },
  );
}

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

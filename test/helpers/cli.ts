import { fileURLToPath } from 'node:url';

/**
 * Node arguments that run the CLI from its TypeScript sources (`node --import tsx src/cli/main.ts …`), for the
 * tests that start it as a child process. They test src/ as it is now: `bin/otesse-sync.js` runs the compiled
 * dist/, which could be older than the sources. The shipped path (bin → dist, plain node) is tested on a fresh
 * build, packed and installed, by test/package.test.ts.
 */
export const CLI_FROM_SOURCE: readonly string[] = [
  '--import',
  'tsx',
  fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url)),
];

/** The repository's root: the working directory of those child processes (where `--import tsx` resolves). */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

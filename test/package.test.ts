import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers/cli.ts';
import { waitFor } from './helpers/db.ts';

/**
 * The package as an application gets it: the current sources built (`npm run build`), packed (`npm pack`) and
 * installed from the tarball into a scratch application, which then runs the README's library example, type-checks
 * a TypeScript file against the shipped `.d.ts`, and runs the CLI, all with plain `node` (no tsx: it is not even
 * installed there).
 *
 * The build runs in a copy of the project, so this checkout's dist/ and web/dist/ (which other tests and a running
 * `npm start` use) are never rewritten under them; `npm pack --ignore-scripts` then packs that fresh build (a plain
 * `npm pack` would run `prepare` and build again). The scratch application installs with `npm ci` from a lockfile
 * made of this project's own (its production packages, at the versions the tests here run against), so the
 * install is reproducible and comes from the npm cache, which `npm ci` of this project filled.
 */
const run = promisify(execFile);
const npmVersion = await run('npm', ['--version']).then(
  (r) => r.stdout.trim(),
  () => null,
);
/** Node ≥ 22.18 strips TypeScript types of files outside node_modules (`process.features.typescript`). */
const nodeStripsTypes = typeof (process.features as { typescript?: unknown }).typescript === 'string';

/** The environment of the child processes: no DATABASE_URL, and no npm_* settings of an `npm test` around us. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^npm_/i.test(k) && k !== 'DATABASE_URL' && k !== 'INIT_CWD') env[k] = v;
  }
  return { ...env, ...extra };
}

async function sh(cmd: string, args: string[], cwd: string, env = cleanEnv()): Promise<string> {
  try {
    return (await run(cmd, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 })).stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

/** The README's "Using the library" example: the first ```ts block of that section. */
function readmeLibraryExample(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.split('## Using the library')[1];
  const code = section && /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (!code) throw new Error('README.md: no ```ts block under "## Using the library"');
  return code;
}

/** `code` with `insert` placed before the line that starts with `marker` (which must occur exactly once). */
function insertBefore(code: string, marker: string, insert: string): string {
  const lines = code.split('\n');
  const at = lines.map((l, i) => (l.startsWith(marker) ? i : -1)).filter((i) => i >= 0);
  if (at.length !== 1) throw new Error(`README example: expected one line starting with "${marker}"`);
  lines.splice(at[0]!, 0, insert);
  return lines.join('\n');
}

/** GLIBC_TUNABLES in the environment a running child process has now (Linux: /proc/<pid>/environ). */
function tunablesOf(child: ChildProcess): string | undefined {
  const environ = readFileSync(`/proc/${child.pid}/environ`, 'utf8').split('\0');
  return environ.find((e) => e.startsWith('GLIBC_TUNABLES='))?.slice('GLIBC_TUNABLES='.length);
}

/** A child process with its output collected; `exit` resolves with its exit code. */
function start(args: string[], cwd: string, env: NodeJS.ProcessEnv) {
  const child: ChildProcess = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exit, output: () => output };
}

describe.skipIf(!npmVersion)('the packed package, installed in a scratch application', () => {
  const work = mkdtempSync(join(tmpdir(), 'otesse-package-'));
  const project = join(work, 'project');
  const app = join(work, 'app');
  const children: ChildProcess[] = [];
  let packed: { filename: string; integrity: string; files: { path: string }[] };
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    version: string;
    main: string;
    types: string;
    exports: Record<string, { types: string; default: string }>;
    bin: Record<string, string>;
    dependencies: Record<string, string>;
    engines: Record<string, string>;
  };

  beforeAll(async () => {
    // A copy of what the build reads, with this checkout's node_modules (typescript, vite).
    mkdirSync(project);
    for (const f of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'scripts', 'src', 'bin']) {
      cpSync(join(ROOT, f), join(project, f), { recursive: true });
    }
    symlinkSync(join(ROOT, 'node_modules'), join(project, 'node_modules'), 'dir');
    if (existsSync(join(ROOT, 'web/dist/index.html'))) {
      cpSync(join(ROOT, 'web/dist'), join(project, 'web/dist'), { recursive: true });
    } else {
      cpSync(join(ROOT, 'web'), join(project, 'web'), {
        recursive: true,
        filter: (src) => !/[/\\](dist|node_modules)$/.test(src),
      });
      await sh('npm', ['run', 'build:web'], project);
    }
    await sh('npm', ['run', 'build'], project);
    [packed] = JSON.parse(await sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], project));

    // The scratch application: depends on the tarball; locked to this project's production packages.
    mkdirSync(app);
    const spec = `file:../${packed.filename}`;
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const packages: Record<string, unknown> = {
      '': { name: 'scratch-app', dependencies: { 'otesse-sync': spec } },
      'node_modules/otesse-sync': {
        version: pkg.version,
        resolved: spec,
        integrity: packed.integrity,
        dependencies: pkg.dependencies,
        bin: pkg.bin,
        engines: pkg.engines,
      },
    };
    for (const [path, entry] of Object.entries(lock.packages)) if (path && !entry.dev) packages[path] = entry;
    const manifest = { name: 'scratch-app', private: true, type: 'module', dependencies: { 'otesse-sync': spec } };
    writeFileSync(join(app, 'package.json'), JSON.stringify(manifest, null, 2));
    writeFileSync(
      join(app, 'package-lock.json'),
      JSON.stringify({ name: 'scratch-app', lockfileVersion: 3, requires: true, packages }, null, 2),
    );
    await sh('npm', ['ci', '--no-audit', '--no-fund', '--prefer-offline'], app);
  }, 600_000);

  afterAll(() => {
    for (const child of children) child.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  });

  it('holds the built library, the CLI, the migrations and the web UI; no sources, tests or tsx', () => {
    const files = packed.files.map((f) => f.path);
    const shipped = (path: string) => files.includes(path.replace(/^\.\//, ''));
    for (const path of [
      pkg.main,
      pkg.types,
      pkg.exports['.']!.types,
      pkg.exports['.']!.default,
      ...Object.values(pkg.bin),
    ]) {
      expect(shipped(path), path).toBe(true);
    }
    for (const path of [
      'package.json',
      'README.md',
      'dist/cli/main.js',
      'dist/sync-engine.d.ts',
      'web/dist/index.html',
    ]) {
      expect(shipped(path), path).toBe(true);
    }
    for (const migration of readdirSync(join(ROOT, 'src/store/migrations'))) {
      expect(shipped(`dist/store/migrations/${migration}`), migration).toBe(true);
    }
    expect(files.filter((f) => /^(src|test|bench|scripts)\//.test(f) || /\.test\.|(?<!\.d)\.ts$/.test(f))).toEqual([]);
    expect(readFileSync(join(app, 'node_modules/otesse-sync/bin/otesse-sync.js'), 'utf8')).not.toMatch(/tsx/);
    expect(existsSync(join(app, 'node_modules/tsx'))).toBe(false);
  });

  it("runs the README's library example with plain node", async () => {
    // The example syncs into the application's own table `public.customers`: the application creates it; the
    // in-memory provider gets 25 customers. Then the example's results are printed.
    let code = insertBefore(
      readmeLibraryExample(),
      'const connection =',
      [
        "await engine.database.exec('CREATE TABLE public.customers (id uuid PRIMARY KEY, email text, " +
          "balance numeric(12, 2), updated_at timestamptz NOT NULL DEFAULT now())');",
        "for (let i = 1; i <= 25; i++) provider.put('customer', { email: 'Customer' + i + '@Example.COM', balance: i * 100 });",
      ].join('\n'),
    );
    code = insertBefore(
      code,
      'await engine.close()',
      [
        'console.log(execution.status);',
        'console.log(JSON.stringify({',
        '  execution, coalesced, queued: await engine.executions.get(queued.id),',
        '  failures: await engine.executions.failures(execution.id), deadLetters: await engine.deadLetters.list(job.id),',
        "  rows: (await engine.database.db.selectFrom('public.customers').select(['email', 'balance']).orderBy('balance').execute()),",
        '}));',
      ].join('\n'),
    );
    writeFileSync(join(app, 'example.mjs'), code);
    const out = (await sh(process.execPath, ['example.mjs'], app)).trim().split('\n');
    expect(out.at(-2)).toBe('completed');
    const result = JSON.parse(out.at(-1)!);
    expect(result.execution).toMatchObject({
      status: 'completed',
      trigger: 'manual',
      processed: 25,
      created: 25,
      updated: 0,
      skipped: 0,
      failed: 0,
    });
    expect(result.coalesced).toBe(false);
    expect(result.queued.jobId).toBe(result.execution.jobId);
    expect(result.failures).toEqual([]);
    expect(result.deadLetters).toEqual([]);
    // The mappings ran: emails lowercased, balances from cents.
    expect(result.rows).toHaveLength(25);
    expect(result.rows[0]).toEqual({ email: 'customer1@example.com', balance: '1.00' });
    expect(result.rows[24]).toEqual({ email: 'customer25@example.com', balance: '25.00' });
  }, 120_000);

  it('type-checks a TypeScript application against the shipped .d.ts (NodeNext and bundler resolution)', async () => {
    // The README example as the application's TypeScript, plus checks that fail if any type were `any`.
    const consumer = `${readmeLibraryExample()}
import type { ExecutionStatus, SyncEngine, SyncExecution, SyncJob } from 'otesse-sync';
import { NotFoundError, ValidationError } from 'otesse-sync';

type IsAny<T> = 0 extends 1 & T ? true : false;
const notAny: [IsAny<typeof engine>, IsAny<typeof execution>, IsAny<typeof job>, IsAny<typeof provider>] = [false, false, false, false];
const typedEngine: SyncEngine = engine;
const typedJob: SyncJob = job;
const typedExecution: SyncExecution = execution;
const status: ExecutionStatus = execution.status;
const counts: number = execution.processed + execution.created + execution.failed;
// @ts-expect-error: runJob takes a job id
await engine.runJob(42);
// @ts-expect-error: not a status
if (execution.status === 'exploded') throw new Error();
const errors: unknown[] = [new ValidationError([{ path: 'name', message: 'is required' }]), NotFoundError];
console.log(notAny, typedEngine, typedJob, typedExecution, status, counts, errors, queued, coalesced);
`;
    writeFileSync(join(app, 'consumer.ts'), consumer);
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    const base = { target: 'ES2023', lib: ['ES2023'], strict: true, noEmit: true, skipLibCheck: true, types: ['node'] };
    for (const [name, resolution] of [
      ['nodenext', { module: 'NodeNext', moduleResolution: 'NodeNext' }],
      ['bundler', { module: 'Preserve', moduleResolution: 'Bundler' }],
    ] as const) {
      const config = `tsconfig.${name}.json`;
      writeFileSync(
        join(app, config),
        JSON.stringify({ compilerOptions: { ...base, ...resolution }, files: ['consumer.ts'] }, null, 2),
      );
      await sh(process.execPath, [tsc, '-p', config], app);
    }
    // And a wrong use is an error (the check above does type-check, it is not vacuous).
    writeFileSync(
      join(app, 'wrong.ts'),
      "import { createSyncEngine } from 'otesse-sync';\nawait createSyncEngine({ database: 42 });\n",
    );
    writeFileSync(
      join(app, 'tsconfig.wrong.json'),
      JSON.stringify({
        compilerOptions: { ...base, module: 'NodeNext', moduleResolution: 'NodeNext' },
        files: ['wrong.ts'],
      }),
    );
    await expect(sh(process.execPath, [tsc, '-p', 'tsconfig.wrong.json'], app)).rejects.toThrow(
      /wrong\.ts.*TS2322|TS2769/s,
    );
  }, 120_000);

  it('runs the CLI with plain node: serve --demo answers /healthz, /readyz and the UI, and stops on SIGTERM', async () => {
    const bin = join(app, 'node_modules/.bin/otesse-sync');
    expect(await sh(process.execPath, [bin, '--help'], app)).toMatch(/^otesse-sync <command>/);
    const server = start(
      [bin, 'serve', '--demo', '--port', '0', '--data-dir', join(app, 'serve-data')],
      app,
      cleanEnv({ LOG_FORMAT: 'json', LOG_LEVEL: 'warn' }),
    );
    children.push(server.child);
    const url = await waitFor(
      async () => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(server.output())?.[1],
      'the server to listen',
      90_000,
    );
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(200); // every shipped migration applied
    // On Linux the long-running commands replace themselves once (same pid) with glibc's mmap threshold fixed.
    if (process.platform === 'linux') expect(tunablesOf(server.child)).toBe('glibc.malloc.mmap_threshold=32768');
    const ui = await fetch(`${url}/`);
    expect(ui.status).toBe(200);
    expect(ui.headers.get('content-type')).toContain('text/html');
    const jobs = (await (await fetch(`${url}/api/v1/sync-jobs`)).json()) as { items: { name: string }[] };
    expect(jobs.items.map((j) => j.name)).toContain('Customers');
    server.child.kill('SIGTERM');
    expect(await server.exit).toBe(0);
    expect(server.output()).not.toMatch(/src\/ has changed|dist\/ is missing/);
  }, 150_000);

  /**
   * `worker --config <file>`: the application's engine options, from a module next to the application. `env`
   * adds to the worker's environment; `tunables` is the GLIBC_TUNABLES the running worker has (Linux), as the
   * config module reads it inside the worker (/proc/<pid>/environ shows only the first of several tunables: glibc
   * rewrites the string in place).
   */
  async function workerWithConfig(file: string, env: Record<string, string>, tunables: string | null): Promise<void> {
    const typed = file.endsWith('.ts');
    const seen = join(app, `${file}.tunables.json`);
    rmSync(seen, { force: true });
    writeFileSync(
      join(app, file),
      [
        "import { writeFileSync } from 'node:fs';",
        `import { createMemoryProvider${typed ? ', type SyncEngineOptions' : ''} } from 'otesse-sync';`,
        `writeFileSync(${JSON.stringify(seen)}, JSON.stringify({ tunables: process.env.GLIBC_TUNABLES ?? null }));`,
        `const options${typed ? ': SyncEngineOptions' : ''} = { database: 'memory://', providers: [createMemoryProvider().definition] };`,
        'export default options;',
        'export const worker = { schedulerIntervalMs: 500 };',
      ].join('\n'),
    );
    const worker = start([join(app, 'node_modules/.bin/otesse-sync'), 'worker', '--config', file], app, cleanEnv(env));
    children.push(worker.child);
    await waitFor(async () => /worker \S+ ready/.test(worker.output()), `the worker (${file}) to be ready`, 60_000);
    if (process.platform === 'linux') {
      expect((JSON.parse(readFileSync(seen, 'utf8')) as { tunables: string | null }).tunables).toBe(tunables);
    }
    worker.child.kill('SIGTERM');
    expect(await worker.exit).toBe(0);
    expect(worker.output()).toMatch(/worker \S+ stopped/);
  }

  it(
    'runs `worker --config` with a JavaScript config (tunables of its own are kept, the threshold added)',
    () =>
      workerWithConfig(
        'worker.config.mjs',
        { GLIBC_TUNABLES: 'glibc.malloc.arena_max=4' },
        'glibc.malloc.arena_max=4:glibc.malloc.mmap_threshold=32768',
      ),
    90_000,
  );

  it(
    'a worker started with a threshold of its own keeps it',
    () =>
      workerWithConfig(
        'worker.config.mjs',
        { GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=65536' },
        'glibc.malloc.mmap_threshold=65536',
      ),
    90_000,
  );

  it.skipIf(!nodeStripsTypes)(
    'runs `worker --config` with a TypeScript config (Node ≥ 22.18 strips its types)',
    () => workerWithConfig('worker.config.ts', { OTESSE_SYNC_MALLOC_TUNING: 'off' }, null),
    90_000,
  );
});

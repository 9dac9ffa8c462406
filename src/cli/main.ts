import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createMemoryProvider } from '../connectors/memory.ts';
import { ValidationError } from '../domain/errors.ts';
import { createPostgresLocalStore } from '../local/postgres.ts';
import type { WorkerOptions } from '../queue/worker.ts';
import { lockHolder } from '../store/data-dir-lock.ts';
import { DEFAULT_DATA_DIR, openDatabase } from '../store/database.ts';
import { migrate } from '../store/migrate.ts';
import { createSyncEngine, type SyncEngineOptions } from '../sync-engine.ts';
import { dlqCommand, executionsCommand, jobsCommand, runCommand } from './operator.ts';
import { serverUrl } from './server-client.ts';

const USAGE = `otesse-sync <command> [options]

Commands:
  serve               the sync service: REST API (/api/v1, docs at /api/docs), web UI, webhooks, metrics,
                      and a worker, in one process
      --demo          also start a Stripe sandbox with seeded data, a connection to it, demo tables and jobs
      --port N        default $PORT or 4310 (0 = any free port)
      --host H        default $HOST or 127.0.0.1; any other address needs OTESSE_SYNC_API_TOKEN
      --config F      local entities (default ./otesse-sync.config.json when present)
      --data-dir D    the embedded database's directory (default ${DEFAULT_DATA_DIR}); ignored with DATABASE_URL
      --concurrency N runs at a time in this process (default 2)
  jobs list           sync jobs with their last and next run
  run <jobId>         run a job now and print the execution; exit code 0 completed,
                      2 completed_with_errors, 1 otherwise
      --follow        live progress (processed, created, updated, skipped, failed, rate, elapsed)
      --queue         hand the run to the workers and return (a server or worker must be running)
  executions list <jobId> | show <executionId>
  dlq list <jobId> [--status open|retried|discarded] | retry <deadLetterId> | discard <deadLetterId>
                      jobs, run, executions and dlq go through a running server's REST API when one is
                      given (--server URL or $OTESSE_SYNC_URL, with $OTESSE_SYNC_API_TOKEN) or holds the
                      PGlite data directory (found from its lock); otherwise they open the database here
  migrate             apply pending database migrations
  demo [--records N]  sync N generated customers from the in-memory provider into a local table, twice,
                      and print both executions (the second shows unchanged records skipped)
  sandbox stripe|hubspot [options]
                      run a Stripe- or HubSpot-compatible sandbox server (seeded data, fault injection,
                      signed webhooks) until SIGINT/SIGTERM; \`sandbox stripe --help\` lists its options
  rotate-key          re-seal every connection's credentials under the first key of
                      OTESSE_SYNC_ENCRYPTION_KEY=<new>,<old>[,…]; afterwards the old keys can be dropped
  worker --config F   run a worker: claims queued runs, fires cron schedules, fails and retries runs of
                      workers that died. Start any number, on any machines, against one PostgreSQL.
                      F is the JSON config file serve takes (local entities; the built-in providers),
                      or a module whose default export is the engine options (or a function returning
                      them): providers, local store, keys. SIGTERM/SIGINT stop it gracefully.
      --concurrency N runs at a time in this process (default 2)
      --grace S       seconds a stopping worker lets runs reach a checkpoint (default 30)

Options:
  --json              machine-readable output (jobs, run, executions, dlq)
  --limit N           rows to list (default 20)
  --schema S          PostgreSQL schema of the engine's tables (default $OTESSE_SYNC_SCHEMA or otesse_sync)
  --database <url>    postgres://… URL, a PGlite data directory, or memory:// (default: $DATABASE_URL or ${DEFAULT_DATA_DIR})
  --server URL        the server the operator commands go through (default $OTESSE_SYNC_URL)
  -h, --help          this help
`;

async function main(argv: string[]): Promise<number> {
  // `sandbox` takes its own options (ports, record counts, faults): hand the rest of the line over.
  if (argv[0] === 'sandbox') return sandbox(argv[1], argv.slice(2));
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      database: { type: 'string' },
      records: { type: 'string' },
      config: { type: 'string' },
      concurrency: { type: 'string' },
      grace: { type: 'string' },
      lease: { type: 'string' },
      heartbeat: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      demo: { type: 'boolean' },
      'demo-records': { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'data-dir': { type: 'string' },
      schema: { type: 'string' },
      json: { type: 'boolean' },
      follow: { type: 'boolean' },
      queue: { type: 'boolean' },
      status: { type: 'string' },
      limit: { type: 'string' },
      server: { type: 'string' },
    },
  });
  const command = positionals[0];
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return command || values.help ? 0 : 2;
  }
  const database = values.database ?? process.env.DATABASE_URL ?? values['data-dir'] ?? DEFAULT_DATA_DIR;
  const schema = values.schema ?? process.env.OTESSE_SYNC_SCHEMA;
  const operator = {
    database,
    schema,
    config: values.config,
    json: values.json,
    follow: values.follow,
    queue: values.queue,
    status: values.status,
    limit: values.limit,
    server: ['jobs', 'run', 'executions', 'dlq'].includes(command)
      ? operatorServer(values.server, database, values.json ?? false)
      : undefined,
  };
  switch (command) {
    case 'serve':
      return serveCommand(database, { ...values, schema });
    case 'jobs':
      return jobsCommand(positionals[1], operator);
    case 'run':
      return runCommand(positionals[1], operator);
    case 'executions':
      return executionsCommand(positionals[1], positionals[2], operator);
    case 'dlq':
      return dlqCommand(positionals[1], positionals[2], operator);
    case 'migrate': {
      const db = await openDatabase({ database, ...(schema !== undefined ? { schema } : {}) });
      try {
        for (const r of await migrate(db)) console.log(`${r.status.padEnd(16)} ${r.name}`);
      } finally {
        await db.close();
      }
      return 0;
    }
    case 'demo':
      return demo(database, values.records === undefined ? 1000 : Number(values.records));
    case 'worker':
      return worker({ ...values, schema });
    case 'rotate-key': {
      const engine = await createSyncEngine({ database });
      try {
        console.log(`re-sealed ${await engine.rotateCredentials()} connection(s) under the current key`);
      } finally {
        await engine.close();
      }
      return 0;
    }
    default:
      process.stderr.write(`unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

/**
 * The server the operator commands go through: the one named (`--server`, `$OTESSE_SYNC_URL`), else the one that
 * holds the PGlite data directory (its lock records its URL; PGlite cannot be opened by a second process).
 */
function operatorServer(named: string | undefined, database: string, json: boolean): string | undefined {
  const explicit = named ?? (process.env.OTESSE_SYNC_URL || undefined);
  if (explicit !== undefined) return serverUrl(explicit);
  if (/^postgres(ql)?:\/\//.test(database) || database === 'memory://') return undefined;
  const holder = lockHolder(database);
  if (!holder?.url) return undefined;
  if (!json)
    process.stderr.write(`using the server at ${holder.url} (process ${holder.pid} holds ${resolve(database)})\n`);
  return holder.url;
}

async function sandbox(kind: string | undefined, argv: string[]): Promise<number> {
  let server: { close(): Promise<void> } | null;
  if (kind === 'stripe') server = await (await import('../sandbox/stripe/cli.ts')).runStripeSandboxCli(argv);
  else if (kind === 'hubspot') server = await (await import('../sandbox/hubspot/cli.ts')).runHubSpotSandboxCli(argv);
  else {
    process.stderr.write(
      `sandbox: expected "stripe" or "hubspot", got ${kind === undefined ? 'nothing' : `"${kind}"`}\n`,
    );
    return 2;
  }
  if (server === null) return 0; // --help
  await new Promise<void>((resolveStop) => {
    process.once('SIGTERM', () => resolveStop());
    process.once('SIGINT', () => resolveStop());
  });
  await server.close();
  return 0;
}

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new ValidationError([{ path: name, message: 'must be a positive number' }]);
  return n;
}

/**
 * The engine options of a worker's `--config`: the JSON config file `serve` takes (local entities, the built-in
 * providers under the same outbound policy as a loopback server, plus OTESSE_SYNC_ALLOWED_HOSTS), or a module whose
 * default export is the engine options (custom providers).
 */
async function workerOptions(
  config: string,
): Promise<{ options: SyncEngineOptions; worker?: WorkerOptions; close(): Promise<void> }> {
  if (config.endsWith('.json')) {
    const { loadServerConfig, localSide } = await import('../api/config.ts');
    const { builtInProviders, serverOutboundPolicy } = await import('../connectors/index.ts');
    const local = localSide(loadServerConfig(config).config);
    const outbound = serverOutboundPolicy({ strict: false, allowedHosts: process.env.OTESSE_SYNC_ALLOWED_HOSTS });
    return {
      options: { providers: builtInProviders({ outbound }), ...(local.store ? { local: local.store } : {}) },
      close: () => local.close(),
    };
  }
  const mod = (await import(pathToFileURL(resolve(config)).href)) as { default?: unknown; worker?: WorkerOptions };
  const exported = typeof mod.default === 'function' ? await (mod.default as () => unknown)() : mod.default;
  if (typeof exported !== 'object' || exported === null) {
    throw new ValidationError([
      {
        path: 'config',
        message: 'must be the JSON config file, or a module exporting engine options as its default export',
      },
    ]);
  }
  return {
    options: exported as SyncEngineOptions,
    ...(mod.worker ? { worker: mod.worker } : {}),
    close: async () => {},
  };
}

async function worker(values: {
  config?: string | undefined;
  schema?: string | undefined;
  database?: string | undefined;
  concurrency?: string | undefined;
  grace?: string | undefined;
  lease?: string | undefined;
  heartbeat?: string | undefined;
}): Promise<number> {
  if (!values.config) {
    throw new ValidationError([
      { path: 'config', message: 'is required (the JSON config file, or a module exporting engine options)' },
    ]);
  }
  const loaded = await workerOptions(values.config);
  const schema = values.schema ?? process.env.OTESSE_SYNC_SCHEMA;
  const engine = await createSyncEngine({
    ...loaded.options,
    ...(values.database || process.env.DATABASE_URL ? { database: values.database ?? process.env.DATABASE_URL } : {}),
    ...(schema ? { schema } : {}),
  });
  const w = await engine.startWorker({
    ...loaded.worker,
    concurrency: positive('concurrency', values.concurrency, 2),
    ...(values.lease ? { leaseSeconds: positive('lease', values.lease, 30) } : {}),
    ...(values.heartbeat ? { heartbeatSeconds: positive('heartbeat', values.heartbeat, 5) } : {}),
  });
  const graceMs = positive('grace', values.grace, 30) * 1000;
  console.log(`worker ${w.id} ready`);
  await new Promise<void>((resolveStop) => {
    const stop = (signal: string) => {
      console.log(`worker ${w.id} stopping (${signal})`);
      resolveStop();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await engine.close({ graceMs });
  await loaded.close();
  console.log(`worker ${w.id} stopped`);
  // Anything an application's config left open (timers, sockets) must not keep a stopped worker alive.
  setTimeout(() => process.exit(0), 1000).unref();
  return 0;
}

function portOf(value: string | undefined): number {
  const raw = value ?? process.env.PORT ?? '4310';
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new ValidationError([{ path: 'port', message: `must be a port number 0-65535, got "${raw}"` }]);
  }
  return n;
}

async function serveCommand(
  database: string,
  values: {
    demo?: boolean | undefined;
    'demo-records'?: string | undefined;
    port?: string | undefined;
    host?: string | undefined;
    config?: string | undefined;
    concurrency?: string | undefined;
    schema?: string | undefined;
  },
): Promise<number> {
  const { serve } = await import('../api/serve.ts');
  const server = await serve({
    database,
    host: values.host ?? process.env.HOST ?? '127.0.0.1',
    port: portOf(values.port),
    ...(values.config ? { configPath: values.config } : {}),
    demo: values.demo ?? false,
    ...(values['demo-records'] ? { demoRecords: positive('demo-records', values['demo-records'], 500) } : {}),
    token: process.env.OTESSE_SYNC_API_TOKEN || null,
    concurrency: positive('concurrency', values.concurrency, 2),
    ...(values.schema ? { schema: values.schema } : {}),
  });
  const where = /^postgres(ql)?:\/\//.test(database) ? 'PostgreSQL' : `PGlite in ${resolve(database)}`;
  console.log(`otesse-sync listening on ${server.url} (UI ${server.url}/, API docs ${server.url}/api/docs; ${where})`);
  if (server.demo) console.log(`demo: Stripe sandbox at ${server.demo.sandbox.url}; connection "Stripe (demo)"`);
  await new Promise<void>((resolveStop) => {
    process.once('SIGTERM', () => resolveStop());
    process.once('SIGINT', () => resolveStop());
  });
  console.log('otesse-sync stopping');
  await server.close();
  setTimeout(() => process.exit(0), 1000).unref();
  return 0;
}

async function demo(database: string, records: number): Promise<number> {
  if (!Number.isInteger(records) || records < 1 || records > 10_000_000) {
    throw new ValidationError([{ path: 'records', message: 'must be an integer between 1 and 10000000' }]);
  }
  const provider = createMemoryProvider({ name: 'memory', entityTypes: ['customer'] });
  provider.seedSynthetic('customer', records, (i) => ({
    id: `cus_${String(i).padStart(8, '0')}`,
    data: { name: `  Customer ${i} `, email: `Customer${i}@Example.test`, balance_cents: i * 7 },
    updatedAt: '2026-01-01T00:00:00.000Z',
  }));
  const engine = await createSyncEngine({
    database,
    providers: [provider.definition],
    local: createPostgresLocalStore({ entities: { customer: { table: 'public.demo_customers' } } }),
  });
  try {
    await engine.database.exec(`CREATE TABLE IF NOT EXISTS public.demo_customers (
      id uuid PRIMARY KEY, name text, email text NOT NULL, balance numeric(12,2),
      updated_at timestamptz NOT NULL DEFAULT now())`);
    const connection =
      (await engine.connections.list()).find((c) => c.name === 'Demo provider') ??
      (await engine.connections.create({ name: 'Demo provider', provider: 'memory' }));
    const job =
      (await engine.jobs.list({ connectionId: connection.id })).find((j) => j.name === 'Demo customer sync') ??
      (await engine.jobs.create({
        connectionId: connection.id,
        name: 'Demo customer sync',
        entityType: 'customer',
        direction: 'inbound',
        mode: 'full',
        fieldMappings: [
          { sourceField: 'name', targetField: 'name', direction: 'inbound', transform: { name: 'trim' } },
          { sourceField: 'email', targetField: 'email', direction: 'inbound', transform: { name: 'lowercase' } },
          {
            sourceField: 'balance_cents',
            targetField: 'balance',
            direction: 'inbound',
            transform: { name: 'cents_to_decimal' },
          },
        ],
      }));
    for (let run = 1; run <= 2; run++) {
      const e = await engine.runJob(job.id);
      console.log(
        `run ${run}: ${e.status} in ${e.durationSeconds}s — processed ${e.processed}, created ${e.created}, ` +
          `updated ${e.updated}, skipped ${e.skipped}, failed ${e.failed}`,
      );
      if (e.status !== 'completed') return 1;
    }
    console.log(`database: ${engine.database.kind === 'postgres' ? 'PostgreSQL' : `PGlite (${database})`}`);
    return 0;
  } finally {
    await engine.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);

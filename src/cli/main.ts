import { parseArgs } from 'node:util';
import { createMemoryProvider } from '../connectors/memory.ts';
import { ValidationError } from '../domain/errors.ts';
import { createPostgresLocalStore } from '../local/postgres.ts';
import { DEFAULT_DATA_DIR, openDatabase } from '../store/database.ts';
import { migrate } from '../store/migrate.ts';
import { createSyncEngine } from '../sync-engine.ts';

const USAGE = `otesse-sync <command> [options]

Commands:
  migrate             apply pending database migrations
  demo [--records N]  sync N generated customers from the in-memory provider into a local table, twice,
                      and print both executions (the second shows unchanged records skipped)

Options:
  --database <url>    postgres://… URL, a PGlite data directory, or memory:// (default: $DATABASE_URL or ${DEFAULT_DATA_DIR})
  -h, --help          this help
`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      database: { type: 'string' },
      records: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const command = positionals[0];
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return command || values.help ? 0 : 2;
  }
  const database = values.database ?? process.env.DATABASE_URL ?? DEFAULT_DATA_DIR;
  switch (command) {
    case 'migrate': {
      const db = await openDatabase({ database });
      try {
        for (const r of await migrate(db)) console.log(`${r.status.padEnd(16)} ${r.name}`);
      } finally {
        await db.close();
      }
      return 0;
    }
    case 'demo':
      return demo(database, values.records === undefined ? 1000 : Number(values.records));
    default:
      process.stderr.write(`unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
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

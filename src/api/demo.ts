/**
 * The demo behind `npm start`: a Stripe-compatible sandbox on a local port with seeded customers, products
 * and invoices (a few invoices malformed, so one job shows record failures and, after three runs, dead
 * letters), demo tables in the engine's database (its schema), a connection to the sandbox and three jobs:
 * - "Customers": inbound, incremental, every 15 minutes;
 * - "Products": bidirectional, provider wins;
 * - "Invoices (demo failures)": inbound, full, manual.
 * Starting again reuses what exists; the connection is pointed at the new sandbox port.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type StripeSandbox, startStripeSandbox } from '../sandbox/stripe/server.ts';
import type { SyncEngine } from '../sync-engine.ts';

export interface Demo {
  /** The config file written for the demo's local entities. */
  configPath: string;
  sandbox: StripeSandbox;
  /** Set by `install`. */
  connectionId: string | null;
  /** Creates the demo tables, connection and jobs (or reuses them). */
  install(engine: SyncEngine): Promise<void>;
  /** Points the sandbox's webhooks at this server. */
  connectWebhooks(serverUrl: string): Promise<void>;
  close(): Promise<void>;
}

export const DEMO_CONNECTION = 'Stripe (demo)';
/** Obviously fake: the sandbox accepts only this key. */
const DEMO_API_KEY = 'sk_test_demo_sandbox_key';
const DEMO_WEBHOOK_SECRET = 'whsec_demo_sandbox_secret';

const TABLES = `
CREATE TABLE IF NOT EXISTS demo_customers (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text, email text, phone text, balance numeric(12,2), currency text,
  updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS demo_products (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL, description text, active boolean,
  updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS demo_invoices (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  customer text, amount_due integer NOT NULL, currency text, status text,
  updated_at timestamptz NOT NULL DEFAULT now());
`;

const LOCAL_ENTITIES = {
  customers: { table: 'demo_customers', primaryKey: 'id', updatedAt: 'updated_at' },
  products: { table: 'demo_products', primaryKey: 'id', updatedAt: 'updated_at' },
  invoices: { table: 'demo_invoices', primaryKey: 'id', updatedAt: 'updated_at' },
};

const inbound = (sourceField: string, targetField = sourceField, transform?: string) => ({
  sourceField,
  targetField,
  direction: 'inbound' as const,
  ...(transform ? { transform: { name: transform } } : {}),
});
const outbound = (sourceField: string, targetField = sourceField) => ({
  sourceField,
  targetField,
  direction: 'outbound' as const,
});

const JOBS = [
  {
    name: 'Customers',
    entityType: 'customer',
    localEntity: 'customers',
    direction: 'inbound',
    mode: 'incremental',
    schedule: { type: 'cron', cron: '*/15 * * * *', timezone: 'UTC' },
    fieldMappings: [
      inbound('name', 'name', 'trim'),
      inbound('email', 'email', 'lowercase'),
      inbound('phone'),
      { ...inbound('balance', 'balance', 'cents_to_decimal'), defaultValue: 0 },
      inbound('currency'),
    ],
  },
  {
    name: 'Products',
    entityType: 'product',
    localEntity: 'products',
    direction: 'bidirectional',
    mode: 'full',
    conflictStrategy: 'provider_wins',
    fieldMappings: [
      inbound('name'),
      inbound('description'),
      inbound('active'),
      outbound('name'),
      outbound('description'),
      outbound('active'),
    ],
  },
  {
    name: 'Invoices (demo failures)',
    entityType: 'invoice',
    localEntity: 'invoices',
    direction: 'inbound',
    mode: 'full',
    fieldMappings: [
      inbound('customer'),
      inbound('amount_due', 'amount_due', 'to_number'),
      inbound('currency'),
      inbound('status'),
    ],
  },
];

export async function prepareDemo(options: { dir: string; records: number; latencyMs: number }): Promise<Demo> {
  const customers = Math.max(1, Math.floor(options.records));
  const invoices = Math.max(5, Math.floor(customers / 2));
  const sandbox = await startStripeSandbox({
    apiKey: DEMO_API_KEY,
    webhookSecret: DEMO_WEBHOOK_SECRET,
    records: { customers, products: Math.max(3, Math.floor(customers / 20)), prices: 0, invoices },
    faults: options.latencyMs > 0 ? { latencyMs: options.latencyMs } : {},
  });
  // Three invoices with a broken shape (amount_due: "lots"): the invoice job fails them on every run.
  sandbox.faults.malformed = { ids: sandbox.store.ids('invoice').slice(0, 3) };
  await mkdir(options.dir, { recursive: true });
  const configPath = join(options.dir, 'otesse-sync.config.json');
  await writeFile(configPath, `${JSON.stringify({ localEntities: LOCAL_ENTITIES }, null, 2)}\n`);

  const demo: Demo = {
    configPath,
    sandbox,
    connectionId: null,
    async install(engine) {
      await engine.database.exec(TABLES);
      const config = { apiBase: sandbox.url, requestsPerSecond: 100 };
      const credentials = { apiKey: DEMO_API_KEY, webhookSecret: DEMO_WEBHOOK_SECRET };
      const existing = (await engine.connections.list()).find((c) => c.name === DEMO_CONNECTION);
      const connection = existing
        ? await engine.connections.update(existing.id, { config, credentials })
        : await engine.connections.create({ name: DEMO_CONNECTION, provider: 'stripe', config, credentials });
      demo.connectionId = connection.id;
      const jobs = await engine.jobs.list({ connectionId: connection.id });
      for (const job of JOBS) {
        if (!jobs.some((j) => j.name === job.name)) await engine.jobs.create({ connectionId: connection.id, ...job });
      }
    },
    async connectWebhooks(serverUrl) {
      if (demo.connectionId) sandbox.webhookEndpoints = [`${serverUrl}/webhooks/${demo.connectionId}`];
    },
    close: () => sandbox.close(),
  };
  return demo;
}

/**
 * The physical limit of `bench/e2e.ts`, in a child process of its own (started with `fork` for each pass): page
 * through the Stripe sandbox with bare `fetch` requests (limit=100, starting_after), map the same fields as the
 * engine's job by hand, and write each page with one INSERT (unnest of column arrays, see bench/limit.ts) on one
 * connection that commits asynchronously, like the engine's page commits. The next page is read while the current
 * one is inserted. Reports `{ type: 'done', records, seconds }` over IPC.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { unnestInsert } from './limit.ts';

const SANDBOX_URL = process.env.BENCH_SANDBOX_URL!;
const API_KEY = process.env.BENCH_SANDBOX_API_KEY!;
const DATABASE_URL = process.env.BENCH_DATABASE_URL!;
const TABLE = process.env.BENCH_LIMIT_TABLE!;
const PAGE_SIZE = 100;

interface StripeList {
  data: Record<string, unknown>[];
  has_more: boolean;
}

async function fetchPage(after: string | null): Promise<StripeList> {
  const url = `${SANDBOX_URL}/v1/customers?limit=${PAGE_SIZE}${after ? `&starting_after=${after}` : ''}`;
  const res = await fetch(url, { headers: { authorization: `Bearer ${API_KEY}` } });
  if (!res.ok) throw new Error(`sandbox: ${res.status} ${await res.text()}`);
  return (await res.json()) as StripeList;
}

/** The same mapping as the engine's job in bench/e2e.ts (RULES), written by hand. */
function mapRows(data: Record<string, unknown>[]) {
  const cols = {
    id: [] as string[],
    name: [] as (string | null)[],
    email: [] as (string | null)[],
    phone: [] as (string | null)[],
    balance: [] as number[],
    created: [] as (string | null)[],
  };
  for (const o of data) {
    cols.id.push(randomUUID());
    cols.name.push(typeof o.name === 'string' ? o.name.trim() : null);
    cols.email.push(typeof o.email === 'string' ? o.email.toLowerCase() : null);
    cols.phone.push(typeof o.phone === 'string' ? o.phone : null);
    cols.balance.push(typeof o.balance === 'number' ? o.balance / 100 : 0);
    cols.created.push(typeof o.created === 'number' ? new Date(o.created * 1000).toISOString() : null);
  }
  return cols;
}

async function physicalLimit(table: string): Promise<{ records: number; seconds: number }> {
  const client = new pg.Client({ connectionString: DATABASE_URL, options: '-c synchronous_commit=off' });
  await client.connect();
  const insert = unnestInsert(table, [
    ['id', 'uuid'],
    ['name', 'text'],
    ['email', 'text'],
    ['phone', 'text'],
    ['balance', 'numeric'],
    ['created_at', 'timestamptz'],
  ]);
  let records = 0;
  const started = performance.now();
  try {
    let pending = fetchPage(null);
    for (;;) {
      const page = await pending;
      const last = page.data.at(-1);
      const more = page.has_more && last !== undefined;
      // The next page is read while this one is inserted.
      if (more) pending = fetchPage(String(last.id));
      const c = mapRows(page.data);
      await client.query(insert, [c.id, c.name, c.email, c.phone, c.balance, c.created]);
      records += page.data.length;
      if (!more) break;
    }
    return { records, seconds: (performance.now() - started) / 1000 };
  } finally {
    await client.end();
  }
}

const result = await physicalLimit(TABLE);
process.send?.({ type: 'done', ...result });
process.disconnect?.();

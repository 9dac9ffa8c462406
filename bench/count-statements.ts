/**
 * Preloaded into bench worker processes (`--import ./bench/count-statements.ts`) when PostgreSQL has no
 * pg_stat_statements: counts the statements this process sends (every `pg` client query, the engine's and
 * pg-boss's alike) and writes the count to $BENCH_STATEMENTS_FILE when the process exits.
 */
import { writeFileSync } from 'node:fs';
import pg from 'pg';

const file = process.env.BENCH_STATEMENTS_FILE;
if (file) {
  let count = 0;
  const query = pg.Client.prototype.query;
  // biome-ignore lint/suspicious/noExplicitAny: wraps pg's overloaded query() unchanged
  (pg.Client.prototype as any).query = function (this: pg.Client, ...args: any[]) {
    count++;
    // biome-ignore lint/suspicious/noExplicitAny: same
    return (query as any).apply(this, args);
  };
  process.on('exit', () => writeFileSync(file, String(count)));
}

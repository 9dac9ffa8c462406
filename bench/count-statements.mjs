/**
 * Preloaded into bench:fleet's worker processes (`node --import ./bench/count-statements.mjs bin/otesse-sync.js …`;
 * plain JavaScript, so the compiled CLI runs without a TypeScript loader): counts the statements the process sends
 * (every `pg` client query, the engine's and pg-boss's alike; pg_stat_statements is not loaded on this machine) and
 * writes the count to $BENCH_STATEMENTS_FILE when the process exits.
 */
import { writeFileSync } from 'node:fs';
import pg from 'pg';

const file = process.env.BENCH_STATEMENTS_FILE;
if (file) {
  let count = 0;
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function (...args) {
    count++;
    return query.apply(this, args);
  };
  process.on('exit', () => writeFileSync(file, String(count)));
}

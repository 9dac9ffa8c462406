/**
 * The physical write limit, as the benchmarks measure it (`npm run bench`, `npm run bench:engine`): the rows a sync
 * must write at the least, written with one `INSERT … SELECT FROM unnest(…)` per page and table, committed like
 * the engine's page commits. Everything the engine does beyond it (references looked up, hashes compared,
 * progress recorded, statements round-tripped) is overhead: `ratioToLimit` says how much of the limit the engine
 * reaches, which the naive per-record loop cannot (it is slower than anything worth building).
 */

/** A column of an unnest insert: its name and the SQL type of its array's elements. */
export type UnnestColumn = readonly [name: string, type: string];

/**
 * `INSERT INTO <table> (<columns>) SELECT * FROM unnest($1::<type>[], …)`: one page of rows in one statement,
 * one array parameter per column (all of the page's length). `table` must already be quoted.
 */
export function unnestInsert(table: string, columns: readonly UnnestColumn[]): string {
  const names = columns.map(([name]) => name).join(', ');
  const arrays = columns.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ');
  return `INSERT INTO ${table} (${names}) SELECT * FROM unnest(${arrays})`;
}

/** The limit's figures beside the engine's, as both benchmarks put them in their JSON. */
export interface LimitFigures {
  limitRecordsPerSecond: number;
  /** The engine's rate over the limit's: 1 would be an engine with no overhead at all. */
  ratioToLimit: number;
  /** The mean of the limit's passes (the machine's other work comes and goes: it runs more than once). */
  limitSeconds: number;
  limitSecondsEach: number[];
}

/** The limit's figures for `records` written by the engine in `engineSeconds` and by the limit in each pass. */
export function limitFigures(records: number, engineSeconds: number, limitPasses: readonly number[]): LimitFigures {
  if (limitPasses.length === 0) throw new Error('limitFigures: no limit pass was measured');
  const limitSeconds = limitPasses.reduce((a, b) => a + b, 0) / limitPasses.length;
  const limitRecordsPerSecond = records / limitSeconds;
  return {
    limitRecordsPerSecond: round(limitRecordsPerSecond),
    ratioToLimit: round(records / engineSeconds / limitRecordsPerSecond, 3),
    limitSeconds: round(limitSeconds, 3),
    limitSecondsEach: limitPasses.map((t) => round(t, 3)),
  };
}

const round = (n: number, digits = 0) => Math.round(n * 10 ** digits) / 10 ** digits;

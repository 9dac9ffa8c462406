import type { PGlite, Transaction } from '@electric-sql/pglite';
import {
  CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryCompiler,
  type QueryResult,
} from 'kysely';

/**
 * A Kysely dialect over PGlite (Postgres in WASM, one connection).
 *
 * Why our own: `kysely-pglite-dialect` pins PGlite <= 0.4. Why PGlite's `transaction()` rather than
 * BEGIN/COMMIT strings: PGlite has a single session, and its transaction mutex is what keeps other
 * callers of the same instance (pg-boss, a second engine, a non-transactional query) from running
 * statements inside our open transaction. Queries outside a transaction wait for that mutex.
 */
export class PGliteDialect implements Dialect {
  constructor(private readonly pglite: PGlite) {}
  createAdapter(): DialectAdapter {
    return new PostgresAdapter();
  }
  createDriver(): Driver {
    return new PGliteDriver(this.pglite);
  }
  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new PostgresIntrospector(db);
  }
  createQueryCompiler(): QueryCompiler {
    return new PostgresQueryCompiler();
  }
}

class PGliteConnection implements DatabaseConnection {
  tx: Transaction | null = null;
  private finish: ((rollback: boolean) => void) | null = null;
  private done: Promise<unknown> | null = null;

  constructor(private readonly pglite: PGlite) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const target = this.tx ?? this.pglite;
    const result = await target.query<R>(query.sql, query.parameters as unknown[], { rowMode: 'object' });
    const affected = result.affectedRows;
    return {
      rows: result.rows,
      ...(affected !== undefined && affected !== null ? { numAffectedRows: BigInt(affected) } : {}),
    };
  }

  // biome-ignore lint/correctness/useYield: PGlite cannot stream; Kysely requires the method.
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('PGlite dialect does not support streaming queries');
  }

  /** Opens a PGlite transaction and keeps it open until commit() or rollback() is called. */
  begin(): Promise<void> {
    return new Promise<void>((started, failed) => {
      this.done = this.pglite
        .transaction(
          (tx) =>
            new Promise<void>((resolve) => {
              this.tx = tx;
              this.finish = (rollback) => {
                if (rollback) {
                  tx.rollback().then(
                    () => resolve(),
                    () => resolve(),
                  );
                } else resolve();
              };
              started();
            }),
        )
        .catch((err: unknown) => {
          failed(err);
          throw err;
        });
      // end() awaits `done`; this handler only keeps a failed begin from being an unhandled rejection.
      this.done.catch(() => {});
    });
  }

  async end(rollback: boolean): Promise<void> {
    const done = this.done;
    this.finish?.(rollback);
    this.tx = null;
    this.finish = null;
    this.done = null;
    await done;
  }
}

class PGliteDriver implements Driver {
  constructor(private readonly pglite: PGlite) {}
  async init(): Promise<void> {}
  async acquireConnection(): Promise<DatabaseConnection> {
    return new PGliteConnection(this.pglite);
  }
  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as PGliteConnection).begin();
  }
  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as PGliteConnection).end(false);
  }
  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as PGliteConnection).end(true);
  }
  async savepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`savepoint ${quoteIdent(name)}`));
  }
  async rollbackToSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`rollback to savepoint ${quoteIdent(name)}`));
  }
  async releaseSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`release savepoint ${quoteIdent(name)}`));
  }
  async releaseConnection(): Promise<void> {}
  async destroy(): Promise<void> {}
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

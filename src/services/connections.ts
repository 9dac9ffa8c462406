import { type Kysely, type Selectable, sql } from 'kysely';
import { errorMessage, NotFoundError, ProviderError, ValidationError } from '../domain/errors.ts';
import { connectionInputSchema, connectionPatchSchema } from '../domain/job.ts';
import type { Connection, SyncExecution, SyncJob } from '../domain/types.ts';
import { parseInput } from '../domain/validate.ts';
import type { Endpoint } from '../engine/endpoint.ts';
import type { CredentialVault } from '../security/vault.ts';
import { toConnection, toExecution } from '../store/repository.ts';
import type { DB } from '../store/schema.ts';
import { checkPage, containsPattern, countOf, isUuid, type Page, type PageOptions, pageByCreation } from './paging.ts';
import type { ProviderRegistry } from './providers.ts';

/** A page of connections whose name contains `q` (case-insensitive). */
export interface ConnectionPageOptions extends PageOptions {
  q?: string | null;
}

/** What the lists show of a connection beside its own fields. */
export interface ConnectionSummary {
  /** Its jobs, archived ones aside. */
  jobCount: number;
  /** The newest whole run of any of its jobs. */
  lastRun: SyncExecution | null;
}

export interface ConnectionDeps {
  db: Kysely<DB>;
  vault: CredentialVault;
  providers: ProviderRegistry;
}

/**
 * Connections: connected apps, their non-secret config (validated by the provider) and their credentials,
 * sealed by the vault and opened only to build a run's provider endpoint. Credentials are never returned.
 */
export function connectionService({ db, vault, providers }: ConnectionDeps) {
  const connectionRow = async (id: string) => {
    const found = isUuid(id)
      ? await db.selectFrom('connections').selectAll().where('id', '=', id).executeTakeFirst()
      : undefined;
    if (!found) throw new NotFoundError('connection', id);
    return found;
  };

  /** The stored credentials, or why they cannot be opened. */
  const openStored = (
    envelope: string | null,
  ): { ok: true; value: Record<string, string> } | { ok: false; reason: string } => {
    if (envelope === null) return { ok: true, value: {} };
    try {
      return { ok: true, value: vault.open(envelope) };
    } catch (err) {
      return { ok: false, reason: errorMessage(err) };
    }
  };

  /** Every required credential of the provider must be in `given`, or the issues say why it is needed. */
  const requireFull = (provider: string, given: Record<string, string>, why: string): void => {
    const missing = providers.requiredCredentials(provider).filter((name) => !given[name]);
    if (missing.length > 0) {
      throw new ValidationError(
        missing.map((name) => ({ path: `credentials.${name}`, message: `is required: ${why}` })),
      );
    }
  };

  /** The credentials to seal for an update, or undefined to keep the stored ones (see `update`). */
  const nextCredentials = (
    current: { provider: string; credentials: string | null },
    given: Record<string, string> | undefined,
    moved: string[],
  ): Record<string, string> | undefined => {
    if (moved.length > 0) {
      const settings = moved.map((k) => `config.${k}`).join(', ');
      const why = `${settings} changed, and stored credentials are never sent to a new address`;
      if (given === undefined) {
        const stored = openStored(current.credentials);
        // Nothing stored, nothing to follow the address.
        if (stored.ok && Object.keys(stored.value).length === 0) return undefined;
        throw new ValidationError([
          { path: 'credentials', message: `must be given again in the same request: ${why}` },
        ]);
      }
      requireFull(current.provider, given, why);
      return given;
    }
    if (given === undefined) return undefined;
    const stored = openStored(current.credentials);
    if (stored.ok) return { ...stored.value, ...given };
    requireFull(
      current.provider,
      given,
      `the stored credentials cannot be opened (${stored.reason}), so the given ones replace them all`,
    );
    return given;
  };

  return {
    create: async (input: unknown): Promise<Connection> => {
      const data = parseInput(connectionInputSchema, input);
      providers.requireKnown(data.provider, 'provider');
      const config = providers.checkConfig(data.provider, data.config);
      const row = await db
        .insertInto('connections')
        .values({
          name: data.name,
          provider: data.provider,
          config: JSON.stringify(config),
          credentials: vault.seal(data.credentials),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toConnection(row);
    },
    get: async (id: string): Promise<Connection> => toConnection(await connectionRow(id)),
    list: async (): Promise<Connection[]> =>
      (await db.selectFrom('connections').selectAll().orderBy('created_at').execute()).map(toConnection),
    /**
     * One page of the connections in creation order (keyset on created_at and id); `q` keeps those whose name
     * contains it (case-insensitive). `total` counts every connection that matches, over all pages.
     */
    page: async (options: ConnectionPageOptions = {}): Promise<Page<Connection> & { total: number }> => {
      const pattern = containsPattern(options.q);
      let matching = db.selectFrom('connections');
      if (pattern !== null) matching = matching.where(sql<boolean>`name ILIKE ${pattern}`);
      const [page, total] = await Promise.all([
        pageByCreation(matching, checkPage(options), 'asc', toConnection),
        countOf(matching),
      ]);
      return { ...page, total };
    },
    /**
     * What a list shows of each connection, in two queries whatever the number of jobs: how many jobs it has
     * (archived ones aside) and its newest whole run (the newest of its jobs' latest runs; single-record runs
     * aside, as for a job's lastRun). Each job's latest run is one probe of the (job_id, created_at) index.
     */
    summaries: async (ids: readonly string[]): Promise<Map<string, ConnectionSummary>> => {
      const wanted = [...new Set(ids.filter(isUuid))];
      const out = new Map<string, ConnectionSummary>(wanted.map((id) => [id, { jobCount: 0, lastRun: null }]));
      if (wanted.length === 0) return out;
      const [counts, latest] = await Promise.all([
        db
          .selectFrom('sync_jobs')
          .select(['connection_id', sql<number>`count(*)::int`.as('n')])
          .where('connection_id', 'in', wanted)
          .where('archived_at', 'is', null)
          .groupBy('connection_id')
          .execute(),
        sql<Selectable<DB['sync_executions']> & { connection_id: string }>`
          SELECT DISTINCT ON (j.connection_id) j.connection_id, e.*
          FROM sync_jobs j
          CROSS JOIN LATERAL (
            SELECT * FROM sync_executions x
            WHERE x.job_id = j.id AND x.record_keys IS NULL
            ORDER BY x.created_at DESC, x.id DESC
            LIMIT 1
          ) e
          WHERE j.connection_id = ANY(${wanted}::uuid[]) AND j.archived_at IS NULL
          ORDER BY j.connection_id, e.created_at DESC, e.id DESC`.execute(db),
      ]);
      for (const c of counts) out.get(c.connection_id)!.jobCount = Number(c.n);
      for (const { connection_id, ...row } of latest.rows) out.get(connection_id)!.lastRun = toExecution(row);
      return out;
    },
    /**
     * Name, config and credentials. Credentials are merged by key into the stored ones, except in two cases
     * where the given ones replace them all: a change of where the credentials are sent (a setting with
     * `credentialTarget`, e.g. `apiBase`, `baseUrl`), which also needs the credentials in the same update, so
     * stored secrets never follow a changed address; and stored credentials that cannot be opened (sealed by a
     * key that is not configured), which then need every required credential.
     */
    update: async (id: string, patch: unknown): Promise<Connection> => {
      const data = parseInput(connectionPatchSchema, patch);
      // The row is locked while the merge is computed: a concurrent update cannot pair this one's config with
      // credentials merged from a stale read (e.g. old credentials with a new address).
      const row = await db.transaction().execute(async (trx) => {
        const current = isUuid(id)
          ? await trx.selectFrom('connections').selectAll().where('id', '=', id).forUpdate().executeTakeFirst()
          : undefined;
        if (!current) throw new NotFoundError('connection', id);
        const set: Record<string, unknown> = {};
        if (data.name !== undefined) set.name = data.name;
        let moved: string[] = [];
        if (data.config !== undefined) {
          const config = providers.checkConfig(current.provider, data.config) as Record<string, unknown>;
          moved = providers.movedCredentialTargets(current.provider, current.config, config);
          set.config = JSON.stringify(config);
        }
        const credentials = nextCredentials(current, data.credentials, moved);
        if (credentials !== undefined) set.credentials = vault.seal(credentials);
        if (Object.keys(set).length === 0) return current;
        return trx
          .updateTable('connections')
          .set({
            ...set,
            // New settings have not been tested yet.
            ...(data.config !== undefined || set.credentials !== undefined
              ? { last_test_ok: null, last_test_message: null, last_tested_at: null }
              : {}),
            updated_at: sql<Date>`now()`,
          })
          .where('id', '=', id)
          .returningAll()
          .executeTakeFirstOrThrow();
      });
      return toConnection(row);
    },
    test: async (id: string): Promise<{ ok: boolean; message: string }> => {
      const conn = await connectionRow(id);
      const provider = providers.get(conn.provider);
      let result: { ok: boolean; message: string };
      if (!provider) result = { ok: false, message: `provider "${conn.provider}" is not registered` };
      else {
        const entityType = providers.entityTypesOf(provider, conn.config)[0];
        const signal = AbortSignal.timeout(15_000);
        try {
          if (entityType === undefined) throw new ProviderError('config', 'the provider declares no entity types');
          const credentials = conn.credentials === null ? {} : vault.open(conn.credentials);
          const endpoint = await provider.createEndpoint({
            id,
            provider: conn.provider,
            config: conn.config,
            credentials,
          });
          await endpoint.readPage({ entityType, since: null, cursor: null, pageSize: 1, signal });
          result = { ok: true, message: `read ${entityType} records successfully` };
        } catch (err) {
          result = { ok: false, message: errorMessage(err) };
        }
      }
      await db
        .updateTable('connections')
        .set({ last_test_ok: result.ok, last_test_message: result.message, last_tested_at: sql<Date>`now()` })
        .where('id', '=', id)
        .execute();
      return result;
    },
    delete: async (id: string): Promise<void> => {
      await connectionRow(id);
      // External references carry no foreign key to their connection (it would cost a lookup per inserted
      // reference on every page): they go here, with the connection, in one transaction.
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom('connections').where('id', '=', id).execute();
        await trx.deleteFrom('external_references').where('connection_id', '=', id).execute();
      });
    },

    /** The connection's row (credentials sealed); NotFoundError when there is none. */
    row: connectionRow,

    /** The provider side of a job's runs: the provider's endpoint over the connection's opened credentials. */
    endpointFor: async (job: SyncJob): Promise<Endpoint> => {
      const conn = await connectionRow(job.connectionId);
      const provider = providers.get(conn.provider);
      if (!provider) throw new Error(`provider "${conn.provider}" is not registered with this engine`);
      const credentials = conn.credentials === null ? {} : vault.open(conn.credentials);
      return provider.createEndpoint({ id: conn.id, provider: conn.provider, config: conn.config, credentials });
    },

    /**
     * Re-seals every connection's credentials under the current (first) key. Old keys must still be
     * configured (after the first one) until this has run. Returns how many connections were re-sealed.
     */
    rotateCredentials: async (): Promise<number> => {
      let rotated = 0;
      let after = '00000000-0000-0000-0000-000000000000';
      for (;;) {
        const rows = await db
          .selectFrom('connections')
          .select(['id', 'credentials'])
          .where('id', '>', after)
          .orderBy('id')
          .limit(100)
          .execute();
        if (rows.length === 0) return rotated;
        after = rows.at(-1)!.id;
        await db.transaction().execute(async (trx) => {
          for (const r of rows) {
            if (r.credentials === null || !vault.isStale(r.credentials)) continue;
            await trx
              .updateTable('connections')
              .set({ credentials: vault.seal(vault.open(r.credentials)), updated_at: sql<Date>`now()` })
              .where('id', '=', r.id)
              .where('credentials', '=', r.credentials)
              .execute();
            rotated++;
          }
        });
      }
    },
  };
}

export type ConnectionService = ReturnType<typeof connectionService>;

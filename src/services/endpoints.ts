import type { Kysely } from 'kysely';
import type { SyncJob } from '../domain/types.ts';
import type { Endpoint } from '../engine/endpoint.ts';
import type { LocalStoreDefinition } from '../local/postgres.ts';
import type { DB } from '../store/schema.ts';

/**
 * The local side of a job's runs: the local store's endpoint (created once, over the engine's database),
 * as the job sees it: its `localEntity` stands in for the entity type.
 */
export function localEndpoints(local: LocalStoreDefinition | undefined, db: Kysely<DB>) {
  let endpoint: Promise<Endpoint> | null = null;
  const shared = (): Promise<Endpoint> => {
    if (!local) return Promise.reject(new Error('no local store is configured (option `local`)'));
    if (!endpoint) {
      endpoint = local.createEndpoint(db);
      endpoint.catch(() => {
        endpoint = null;
      });
    }
    return endpoint;
  };
  return async (job: SyncJob): Promise<Endpoint> => {
    const base = await shared();
    if (!job.localEntity || job.localEntity === job.entityType) return base;
    return renameEntityType(base, job.entityType, job.localEntity);
  };
}

/** An endpoint that serves entity type `from` as its own entity type `to` (a job's local entity). */
function renameEntityType(endpoint: Endpoint, from: string, to: string): Endpoint {
  const rename = <T extends { entityType: string }>(request: T): T =>
    request.entityType === from ? { ...request, entityType: to } : request;
  const renamed: Endpoint = {
    colocated: endpoint.colocated ?? false,
    readPage: (request) => endpoint.readPage(rename(request)),
    fetch: (request) => endpoint.fetch(rename(request)),
    write: (request) => endpoint.write(rename(request)),
  };
  const table = endpoint.colocatedTable?.bind(endpoint);
  if (table) renamed.colocatedTable = (entityType) => table(entityType === from ? to : entityType);
  return renamed;
}

/** otesse-sync: the public library API. */
export { createMemoryProvider, MemoryProvider } from './connectors/memory.ts';
export * from './domain/errors.ts';
export { TRANSFORM_NAMES } from './domain/transforms.ts';
export type * from './domain/types.ts';
export type * from './engine/endpoint.ts';
export { createPostgresLocalStore, type LocalEntityConfig, type LocalStoreDefinition } from './local/postgres.ts';
export { DataDirectoryLockedError, type LockHolder } from './store/data-dir-lock.ts';
export {
  createSyncEngine,
  type RunOptions,
  type StartedRun,
  type SyncEngine,
  type SyncEngineOptions,
} from './sync-engine.ts';

/**
 * The operator tools' calls (issue 14): an execution's run log, the dry-run preview of a saved or a draft job, and
 * the record inspector, through api.ts's client.
 */
import { ApiError, client, type JobInput, ok } from './api.ts';
import type { components } from './api-schema.ts';

type Schemas = components['schemas'];
export type LogEntry = Schemas['LogEntry'];
export type LogLevel = LogEntry['level'];
export type LogPage = { items: LogEntry[]; nextCursor: string | null };
export type Preview = Schemas['Preview'];
export type PreviewItem = Schemas['PreviewItem'];
export type PreviewAction = PreviewItem['action'];
export type RecordInspection = Schemas['RecordInspection'];
export type RecordSide = RecordInspection['side'];
export type InspectedSide = RecordInspection['local'];
export type RecordHistoryEntry = RecordInspection['history'][number];
export type ExecutionTiming = NonNullable<Schemas['Execution']['timing']>;

export const operatorApi = {
  /** One page of an execution's run log, oldest first. */
  log: (id: string, p: { limit?: number; cursor?: string | null }): Promise<LogPage> =>
    ok(
      client.GET('/api/v1/executions/{id}/log', {
        params: { path: { id }, query: { limit: p.limit, ...(p.cursor ? { cursor: p.cursor } : {}) } },
      }),
    ),
  /** What the next run of a saved job would do; writes nothing. */
  previewJob: (id: string, limit?: number): Promise<Preview> =>
    ok(client.POST('/api/v1/sync-jobs/{id}/preview', { params: { path: { id } }, body: { limit } })),
  /**
   * What a draft (unsaved) job's first run would do; writes nothing. A refusal's details for the job's fields come
   * back at their paths in the form (`job.name` → `name`).
   */
  previewDraft: async (job: JobInput, limit?: number): Promise<Preview> => {
    try {
      return await ok(client.POST('/api/v1/sync-jobs/preview', { body: { job, limit } }));
    } catch (error) {
      throw error instanceof ApiError ? unprefixed(error, 'job.') : error;
    }
  },
  /** One record of a job by its id on `side`: reference, both sides live and mapped, history, failures. */
  inspectRecord: (jobId: string, key: string, side: RecordSide): Promise<RecordInspection> =>
    ok(
      client.GET('/api/v1/sync-jobs/{id}/records/{key}', {
        params: { path: { id: jobId, key }, query: { side } },
      }),
    ),
};

/** The same error with `prefix` taken off its detail paths (`job.name` → `name`; `job` → ``). */
function unprefixed(error: ApiError, prefix: string): ApiError {
  const base = prefix.replace(/\.$/, '');
  const details = error.details.map((d) => ({
    ...d,
    path: d.path.startsWith(prefix) ? d.path.slice(prefix.length) : d.path === base ? '' : d.path,
  }));
  return new ApiError(error.status, error.code, error.message, details);
}

/**
 * Ready REST connection configs, one per common API style, for the connection form's "start from an example" and
 * the README. Each is a complete `rest` config (it passes `restConfigSchema`); test/rest-builder.test.ts syncs both
 * end to end against local servers that answer in these styles, so an example never drifts from what works.
 */

export interface RestExample {
  name: string;
  description: string;
  config: Record<string, unknown>;
}

/**
 * A cursor-paginated API: `GET /contacts?limit=100&cursor=…` answers `{ "data": [...], "next_cursor": "…" }`
 * (null on the last page), bearer token, `updated_since` for incremental reads, writes with an idempotency key.
 */
export const CURSOR_EXAMPLE: RestExample = {
  name: 'Cursor-paginated API',
  description:
    'Records under `data`, the next page’s cursor in `next_cursor` (null on the last page) sent back as ' +
    '`?cursor=`; bearer token; `updated_since` for incremental runs; creates with an Idempotency-Key header.',
  config: {
    baseUrl: 'https://api.example.com/v1',
    auth: { type: 'bearer' },
    rateLimit: { requests: 10, perSeconds: 1 },
    entities: {
      contacts: {
        listPath: '/contacts',
        recordsPath: 'data',
        idField: 'id',
        updatedAtField: 'updated_at',
        pagination: { style: 'cursor', cursorParam: 'cursor', cursorPath: 'next_cursor', limitParam: 'limit' },
        incremental: { param: 'updated_since', format: 'iso' },
        getPath: '/contacts/{id}',
        create: { method: 'POST', path: '/contacts', idPath: 'id', idempotencyHeader: 'Idempotency-Key' },
        update: { method: 'PATCH', path: '/contacts/{id}' },
        delete: { method: 'DELETE', path: '/contacts/{id}' },
      },
    },
  },
};

/**
 * A page-numbered API: `GET /members?page=2&per_page=100` answers `{ "results": [...], "total_pages": 7 }`, an API
 * key in the `X-Api-Key` header, the change time in `modified_at`.
 */
export const PAGE_EXAMPLE: RestExample = {
  name: 'Page-numbered API',
  description:
    'Records under `results`, pages numbered from 1 with `?page=` and `?per_page=`, `total_pages` in the answer; ' +
    'an API key in the X-Api-Key header; the change time in `modified_at`; updates with PUT.',
  config: {
    baseUrl: 'https://api.example.org',
    auth: { type: 'header', name: 'X-Api-Key' },
    entities: {
      members: {
        listPath: '/members',
        recordsPath: 'results',
        idField: 'member_id',
        updatedAtField: 'modified_at',
        pagination: {
          style: 'page',
          pageParam: 'page',
          limitParam: 'per_page',
          firstPage: 1,
          totalPagesPath: 'total_pages',
        },
        getPath: '/members/{id}',
        create: { method: 'POST', path: '/members', idPath: 'member_id' },
        update: { method: 'PUT', path: '/members/{id}' },
      },
    },
  },
};

export const REST_EXAMPLES: readonly RestExample[] = [CURSOR_EXAMPLE, PAGE_EXAMPLE];

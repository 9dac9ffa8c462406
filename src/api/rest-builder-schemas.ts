/**
 * JSON Schemas of the REST connection builder's routes (rest-builder-routes.ts) for the OpenAPI document: the
 * bodies, and the named answers `openapi.ts` adds to its `schemas` (so the web UI's generated types name them).
 */

const str = { type: 'string' } as const;
const nullableStr = { type: ['string', 'null'] } as const;
const int = { type: 'integer' } as const;
const bool = { type: 'boolean' } as const;
const openObject = { type: 'object', additionalProperties: true } as const;
const arrayOf = (items: object) => ({ type: 'array', items }) as const;
const strings = arrayOf(str);
const nullable = (schema: object) => ({ anyOf: [schema, { type: 'null' }] });

/** An object schema whose properties are all required, except `optional` ones (sent only when set). */
function object(properties: Record<string, object>, optional: readonly string[] = []) {
  return {
    type: 'object',
    required: Object.keys(properties).filter((k) => !optional.includes(k)),
    properties,
  } as const;
}

export const restStreamTestBody = {
  type: 'object',
  additionalProperties: false,
  required: ['config', 'entityType'],
  properties: {
    config: { ...openObject, description: 'A REST connection’s config, as POST /connections takes it (not saved)' },
    credentials: {
      type: 'object',
      additionalProperties: str,
      description: 'Its credentials (token; username, password; apiKey); used for this test only, never returned',
    },
    entityType: { ...str, description: 'A key of config.entities' },
    pageSize: { ...int, minimum: 1, maximum: 1000, default: 100, description: 'Records asked per page' },
  },
};

export const openApiImportBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    document: { ...str, description: 'The OpenAPI 3.x document’s text, JSON or YAML (exactly one of document, url)' },
    url: { ...str, format: 'uri', description: 'Where to fetch it, through the outbound request guard' },
  },
};

/** A REST connector pagination config (see the connector's `pagination` setting). */
const pagination = {
  type: 'object',
  required: ['style'],
  properties: {
    style: { enum: ['cursor', 'offset', 'page', 'link'] },
    cursorParam: str,
    cursorPath: str,
    cursorField: { ...str, description: 'Instead of cursorPath: page after this field of the last record' },
    hasMorePath: { ...str, description: 'With cursorField: the response’s “more pages follow” boolean' },
    offsetParam: str,
    pageParam: str,
    limitParam: str,
    firstPage: int,
    totalPath: str,
    totalPagesPath: str,
  },
  description: 'A pagination config of the REST connector',
};

export const restBuilderSchemas = {
  RestStreamTest: object({
    ok: { ...bool, description: 'The stream reads as configured: no problems' },
    pages: {
      ...arrayOf(
        object({
          url: { ...str, description: 'The URL requested, without credentials' },
          status: { ...int, description: 'HTTP status; 0 when no answer came (refused, unreachable, timed out)' },
          ms: int,
          recordCount: { ...int, description: 'Records at the records path' },
          nextCursor: { ...nullableStr, description: 'The cursor this page gave for the next one' },
        }),
      ),
      description: 'The first page, and the second when there is one',
    },
    records: {
      ...arrayOf(openObject),
      description: 'The first page’s records (at the records path, or where detection found them), at most 50',
    },
    detected: object({
      recordsPath: { ...nullableStr, description: 'Dot path of the largest list of objects; "" = the body itself' },
      idField: nullableStr,
      updatedAtField: nullableStr,
      pagination: { ...nullable(pagination), description: 'A pagination config proposed from the answer' },
    }),
    nextCursor: {
      ...nullableStr,
      description: 'The cursor (offset, page number, link) a run would request after the pages read; null: none',
    },
    problems: { ...strings, description: 'What is wrong, in words' },
    notes: { ...strings, description: 'What is worth knowing but not wrong' },
    timing: object({ totalMs: int }),
  }),
  RestOpenApiImport: object({
    title: str,
    baseUrl: {
      ...nullableStr,
      description: 'servers[0].url (relative: resolved against the fetched URL); null when absent or not absolute',
    },
    auth: {
      ...nullable({
        type: 'object',
        required: ['type'],
        properties: { type: { enum: ['none', 'bearer', 'basic', 'header', 'query'] }, name: str },
      }),
      description: 'The connector auth config the security schemes map onto',
    },
    entities: arrayOf(
      object(
        {
          name: { ...str, description: 'The entity type (a key of config.entities)' },
          listPath: str,
          recordsPath: str,
          idField: str,
          updatedAtField: str,
          pagination,
          incremental: object({ param: str, format: { enum: ['iso', 'unix'] } }),
          getPath: str,
          create: openObject,
          update: openObject,
          delete: openObject,
          fields: arrayOf(
            object({
              name: str,
              type: { enum: ['string', 'number', 'boolean', 'datetime', 'object', 'array'] },
              required: bool,
            }),
          ),
          notes: { ...strings, description: 'Guesses to check' },
        },
        ['updatedAtField', 'incremental', 'getPath', 'create', 'update', 'delete', 'fields'],
      ),
    ),
    warnings: strings,
  }),
  RestExample: object({ name: str, description: str, config: openObject }),
} as const;

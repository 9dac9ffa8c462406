/**
 * The REST connection builder's routes under `/api/v1`: "Test stream" on an unsaved REST connection, OpenAPI import,
 * and ready example configs, so a REST API can be connected without writing the config JSON by hand.
 *
 * Outbound requests go through the fetch of the server's own REST provider (`restProviderFetch`): the same outbound
 * guard, policy and allow-list as a run of a saved connection. Only bad input is an error (400 with field paths);
 * what the tested API answers, 401 or 404 included, is data in a 200 answer.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { testRestStream } from '../connectors/rest/builder.ts';
import { REST_EXAMPLES } from '../connectors/rest/examples.ts';
import { restProviderFetch } from '../connectors/rest/index.ts';
import { importOpenApi } from '../connectors/rest/openapi-import.ts';
import { NotFoundError } from '../domain/errors.ts';
import type { SyncEngine } from '../sync-engine.ts';
import * as doc from './openapi.ts';
import { openApiImportBody, restStreamTestBody } from './rest-builder-schemas.ts';

/** OpenAPI documents are larger than API bodies (big APIs describe themselves in a few MiB). */
const OPENAPI_BODY_LIMIT = 10 * 1024 * 1024;

/** Registers the REST builder routes on the `/api/v1` instance. */
export function registerRestBuilderRoutes(api: FastifyInstance, engine: SyncEngine): void {
  const body = (req: FastifyRequest) => (req.body === undefined || req.body === null ? {} : req.body);
  const tags = ['providers'];
  /** The guarded fetch of the server's REST provider (looked up per request: routes are built before use). */
  const restFetch = (): typeof fetch => {
    for (const provider of engine.providers()) {
      const f = restProviderFetch(provider);
      if (f) return f;
    }
    throw new NotFoundError('provider', 'rest (the REST connector is not registered on this server)');
  };

  api.post(
    '/providers/rest/test-stream',
    {
      schema: {
        summary: 'Test stream: read the first pages of an unsaved REST connection’s entity type and explain them',
        description:
          'Reads the first page (and the second, when there is one) through the connector’s own read path and ' +
          'the outbound request guard, one try per request, at most 15 s each. Answers 200 whatever the API ' +
          'answered: `problems` says what is wrong in words (HTTP 401, a records path not found, pagination that ' +
          'does not advance, an address the guard refused), `detected` proposes recordsPath, idField, ' +
          'updatedAtField and pagination from the answer. 400 only for invalid input (config checked by the REST ' +
          'connector’s schema, e.g. `config.entities.contacts.listPath`). Credentials are never returned: URLs ' +
          'lose them and texts mask them.',
        tags,
        body: restStreamTestBody,
        response: { 200: doc.ref('RestStreamTest'), ...doc.errors },
      },
    },
    async (req) => testRestStream(body(req), { fetch: restFetch() }),
  );

  api.post(
    '/providers/rest/openapi-import',
    {
      bodyLimit: OPENAPI_BODY_LIMIT,
      schema: {
        summary:
          'OpenAPI import: propose a REST connection (base URL, auth, entity types) from an OpenAPI 3.x document',
        description:
          'Give the document as text (`document`, JSON or YAML) or a `url` to fetch (through the outbound request ' +
          'guard, at most 15 s). Collections are GET paths without path parameters whose answer is a list; each ' +
          'proposed entity passes the REST connector’s entity schema. 400 when the document cannot be imported: ' +
          'not JSON or YAML (the line is named), not OpenAPI 3.x (Swagger 2.0 included), no paths, a URL that ' +
          'cannot be fetched. External `$ref`s are not fetched. Bodies up to 10 MiB.',
        tags,
        body: openApiImportBody,
        response: { 200: doc.ref('RestOpenApiImport'), ...doc.errors },
      },
    },
    async (req) => importOpenApi(body(req), { fetch: restFetch() }),
  );

  api.get(
    '/providers/rest/examples',
    {
      schema: {
        summary: 'Ready REST connection configs (a cursor-paginated and a page-numbered API) to start from',
        tags,
        response: { 200: { type: 'array', items: doc.ref('RestExample') }, ...doc.errors },
      },
    },
    async () => REST_EXAMPLES.map((e) => ({ name: e.name, description: e.description, config: e.config })),
  );
}

/**
 * The REST builder's calls (issue 16, "Connect any REST API without writing JSON"): a live test of one entity
 * type's stream with an unsaved config, an OpenAPI import, and the example configs, through api.ts's client (one
 * token, 401 handling, the server's error shape as ApiError).
 */
import { client, ok } from './api.ts';
import type { components } from './api-schema.ts';

type Schemas = components['schemas'];
export type StreamTest = Schemas['RestStreamTest'];
/** What the server saw in the answers: a guess for the fields the user has to fill in. */
export type DetectedShape = StreamTest['detected'];
export type OpenApiImport = Schemas['RestOpenApiImport'];
/** An entity type the OpenAPI import proposes; lands in the form for review. */
export type ImportedEntity = OpenApiImport['entities'][number];
export type RestExample = Schemas['RestExample'];

export const restApi = {
  /** Reads a few pages of one entity type with the form's (unsaved) config and credentials; writes nothing. */
  testStream: (body: { config: Record<string, unknown>; credentials: Record<string, string>; entityType: string }) =>
    ok(client.POST('/api/v1/providers/rest/test-stream', { body })),
  /** Entity types proposed from an OpenAPI document (its text, JSON or YAML) or from its URL. */
  openApiImport: (body: { document: string } | { url: string }) =>
    ok(client.POST('/api/v1/providers/rest/openapi-import', { body })),
  examples: () => ok(client.GET('/api/v1/providers/rest/examples')),
};

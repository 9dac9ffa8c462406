/**
 * The HTTP server: REST API under `/api/v1`, provider webhooks, health, metrics, OpenAPI, and the web UI.
 *
 * Errors have one shape, `{ error: { code, message, details? } }`: 400 `validation_failed` with a `path` per
 * invalid field, 401 `unauthorized`, 404 `not_found`, 409 `conflict`, 413 `payload_too_large`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Logger } from 'pino';
import * as z from 'zod';
import { errorMessage, NotFoundError, ProviderError, StateError, ValidationError } from '../domain/errors.ts';
import { TRANSFORM_NAMES } from '../domain/transforms.ts';
import { type Connection, FINAL_STATUSES, type SyncExecution, type SyncJob } from '../domain/types.ts';
import { parseInput } from '../domain/validate.ts';
import type { SyncEngine } from '../sync-engine.ts';
import type { LocalSide } from './config.ts';
import { createMetrics } from './metrics.ts';
import * as doc from './openapi.ts';
import {
  apiConnection,
  apiDeadLetter,
  apiExecution,
  apiJob,
  deadLetterListQuery,
  executionListQuery,
  jobListQuery,
  pageQuery,
  toLibraryJob,
  withApiPaths,
} from './shapes.ts';

export interface ApiServerOptions {
  engine: SyncEngine;
  /** Local entities for `GET /local-entities`. */
  local?: LocalSide | null;
  /** When set, every `/api/v1` call needs `Authorization: Bearer <token>`. */
  token?: string | null;
  /** Built UI (`web/dist`); when absent the root explains how to build it. */
  webDir?: string | null;
  /** Request logs go here; default: none. */
  logger?: Logger;
  /** Largest accepted JSON body in bytes. Default: 256 KiB (webhooks: 1 MiB). */
  bodyLimit?: number;
  /** How often SSE progress polls the execution. Default: 500 ms. */
  progressIntervalMs?: number;
}

const TRANSFORM_DESCRIPTIONS: Record<(typeof TRANSFORM_NAMES)[number], string> = {
  trim: 'Removes leading and trailing whitespace',
  lowercase: 'Lower-cases text',
  uppercase: 'Upper-cases text',
  to_number: 'Parses a number',
  to_string: 'Formats the value as text',
  to_boolean: 'true/false, yes/no, 1/0 → boolean',
  cents_to_decimal: 'Integer cents → decimal amount (1999 → 19.99)',
  decimal_to_cents: 'Decimal amount → integer cents (19.99 → 1999)',
  unix_to_iso: 'Unix seconds → ISO 8601 date-time',
  iso_to_unix: 'ISO 8601 date-time → Unix seconds',
  map_values: 'Replaces values by a table: args { values: { from: to }, default? }',
  concat: 'Joins several fields: args { fields: [..], separator }',
  template: 'Fills a template: args { template: "{{first}} {{last}}" }',
};

const STATUS_CODES: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'too_many_requests',
};

const idParams = {
  type: 'object',
  properties: { id: { type: 'string', format: 'uuid' } },
  required: ['id'],
} as const;

function sendError(reply: FastifyReply, status: number, code: string, message: string, details?: unknown) {
  return reply
    .code(status)
    .type('application/json')
    .send({ error: { code, message, ...(details === undefined ? {} : { details }) } });
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Constant-time comparison of a presented token with the configured one. */
function tokenMatches(presented: string | undefined, expected: Buffer): boolean {
  if (!presented) return false;
  return timingSafeEqual(digest(presented), expected);
}

export async function buildServer(options: ApiServerOptions): Promise<FastifyInstance> {
  const { engine } = options;
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger as unknown as FastifyBaseLogger } : { logger: false }),
    bodyLimit: options.bodyLimit ?? 256 * 1024,
    routerOptions: { ignoreTrailingSlash: true },
  });
  // Requests are validated with zod in the handlers (one error shape, field paths); the JSON Schemas on the
  // routes document them in OpenAPI. Responses are plain JSON (the schemas must not strip fields).
  app.setValidatorCompiler(() => (data) => ({ value: data }));
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  for (const [name, schema] of Object.entries(doc.schemas)) app.addSchema({ $id: name, ...schema });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'otesse-sync API',
        version: '1',
        description:
          'Connections, sync jobs, executions and the dead letter queue of an otesse-sync server. JSON in ' +
          'camelCase; errors are `{ error: { code, message, details } }`.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: options.token ? [{ bearer: [] }] : [],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/api/docs' });

  app.setErrorHandler((err: FastifyError | Error, req, reply) => {
    if (err instanceof ValidationError) {
      return sendError(reply, 400, 'validation_failed', err.message, err.issues);
    }
    if (err instanceof NotFoundError) return sendError(reply, 404, 'not_found', err.message);
    if (err instanceof StateError) return sendError(reply, 409, 'conflict', err.message);
    if (err instanceof ProviderError && (err.kind === 'config' || err.kind === 'record')) {
      return sendError(reply, 400, 'bad_request', err.message);
    }
    const status = (err as FastifyError).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      return sendError(reply, status, STATUS_CODES[status] ?? 'bad_request', err.message);
    }
    req.log.error({ err: errorMessage(err) }, 'request failed');
    return sendError(reply, 500, 'internal', 'internal error; see the server log');
  });

  app.setNotFoundHandler(async (req, reply) => {
    const path = req.url.split('?')[0]!;
    const isApi = path.startsWith('/api/') || path.startsWith('/webhooks/');
    if (req.method === 'GET' && !isApi && options.webDir && existsSync(join(options.webDir, 'index.html'))) {
      return reply.type('text/html').sendFile('index.html', options.webDir);
    }
    if (req.method === 'GET' && path === '/' && !isApi) {
      return reply
        .type('text/html')
        .send(
          '<!doctype html><title>otesse-sync</title><h1>otesse-sync</h1><p>The web UI is not built: run ' +
            '<code>npm run build:web</code>. The API is at <a href="/api/docs">/api/docs</a>.</p>',
        );
    }
    return sendError(reply, 404, 'not_found', `no route ${req.method} ${path}`);
  });

  // ── unauthenticated: health, metrics, OpenAPI, webhooks, UI ────────────────
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    const health = await engine.health();
    const ready = health.database && health.pendingMigrations.length === 0;
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', ...health });
  });
  const metrics = createMetrics(engine);
  app.addHook('onClose', async () => metrics.close());
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  if (options.webDir && existsSync(options.webDir)) {
    await app.register(fastifyStatic, { root: options.webDir, prefix: '/', wildcard: false, index: ['index.html'] });
  }

  await app.register(async (hooks) => {
    // The provider's signature is the auth here: the raw body must reach the verifier untouched.
    hooks.removeAllContentTypeParsers();
    hooks.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 1024 * 1024 }, (_req, body, done) =>
      done(null, body),
    );
    hooks.post<{ Params: { connectionId: string } }>(
      '/webhooks/:connectionId',
      {
        schema: {
          summary: 'Receive a provider webhook',
          description:
            'The provider’s signature (Stripe-Signature, X-HubSpot-Signature-v3) is checked on the raw body with ' +
            'the connection’s credentials; each event id is stored once and replays are ignored. Runs start in ' +
            'the background.',
          tags: ['webhooks'],
          params: {
            type: 'object',
            properties: { connectionId: { type: 'string', format: 'uuid' } },
          },
          response: {
            200: {
              type: 'object',
              required: ['accepted', 'duplicates'],
              properties: {
                accepted: { type: 'integer', description: 'Events stored (their runs start in the background)' },
                duplicates: { type: 'integer', description: 'Replays of events already received' },
              },
            },
            ...doc.errors,
          },
          security: [],
        },
      },
      async (req, reply) => {
        const headers: Record<string, string | undefined> = {};
        for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = Array.isArray(v) ? v[0] : v;
        const rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        try {
          const result = await engine.receiveWebhook(req.params.connectionId, {
            rawBody,
            headers,
            method: req.method,
            url: `${req.protocol}://${req.host}${req.url}`,
          });
          return reply.code(200).send(result);
        } catch (err) {
          if (err instanceof ProviderError && err.kind === 'auth') {
            return sendError(reply, 401, 'invalid_signature', err.message);
          }
          throw err;
        }
      },
    );
  });

  // ── /api/v1 ────────────────────────────────────────────────────────────────
  const expected = options.token ? digest(options.token) : null;
  await app.register(
    async (api) => {
      api.addHook('onRequest', async (req, reply) => {
        if (!expected) return;
        const header = req.headers.authorization;
        const bearer = header?.startsWith('Bearer ') ? header.slice(7) : undefined;
        // EventSource cannot send headers: the progress stream also takes ?access_token=.
        const query = req.url.includes('/events') ? (req.query as { access_token?: string }).access_token : undefined;
        if (!tokenMatches(bearer ?? query, expected)) {
          return sendError(reply, 401, 'unauthorized', 'missing or wrong API token (Authorization: Bearer <token>)');
        }
      });
      registerRoutes(api, options);
    },
    { prefix: '/api/v1' },
  );

  return app;
}

type Req<P = { id: string }> = FastifyRequest<{ Params: P }>;

function registerRoutes(api: FastifyInstance, options: ApiServerOptions): void {
  const { engine } = options;
  const query = <T extends z.ZodType>(schema: T, req: FastifyRequest) => parseInput(schema, req.query ?? {});
  const body = (req: FastifyRequest) => (req.body === undefined || req.body === null ? {} : req.body);
  const noQuery = (req: FastifyRequest) => parseInput(z.strictObject({}), req.query ?? {});

  /** Jobs with their last runs, read in one query. */
  const jobsOut = async (jobs: SyncJob[]) => {
    const last = await engine.executions.latest(jobs.map((j) => j.id));
    return jobs.map((j) => apiJob(j, last.get(j.id) ?? null));
  };
  const jobOut = async (id: string) => (await jobsOut([await engine.jobs.get(id)]))[0]!;
  const connectionOut = async (conn: Connection) => {
    const jobs = await engine.jobs.list({ connectionId: conn.id });
    const runs = [...(await engine.executions.latest(jobs.map((j) => j.id))).values()];
    runs.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
    return apiConnection(conn, {
      jobCount: jobs.length,
      lastRun: runs[0] ?? null,
      webhookUrl: `/webhooks/${conn.id}`,
    });
  };

  // providers, transforms, local entities
  api.get(
    '/providers',
    {
      schema: {
        summary: 'Providers, their settings, entity types and fields',
        tags: ['providers'],
        response: { 200: doc.listOf('Provider'), ...doc.errors },
      },
    },
    async (req) => {
      noQuery(req);
      return {
        items: engine.providers().map((p) => ({
          name: p.name,
          displayName: p.info?.displayName ?? p.name,
          ...(p.info?.description ? { description: p.info.description } : {}),
          config: p.info?.config ?? [],
          credentials: p.info?.credentials ?? [],
          entityTypes:
            p.info?.entityTypes ??
            p.entityTypes.map((name) => ({
              name,
              label: name,
              fields: [],
              supports: { inbound: true, outbound: true, incremental: true, webhooks: false },
            })),
        })),
      };
    },
  );
  api.get(
    '/transforms',
    {
      schema: {
        summary: 'Transforms for field mapping rules',
        tags: ['sync jobs'],
        response: { 200: doc.listOf('Transform'), ...doc.errors },
      },
    },
    async () => ({
      items: TRANSFORM_NAMES.map((name) => ({ name, description: TRANSFORM_DESCRIPTIONS[name] })),
    }),
  );
  api.get(
    '/local-entities',
    {
      schema: {
        summary: 'Local entities (tables of the application) with their fields',
        tags: ['providers'],
        response: { 200: doc.listOf('LocalEntity'), ...doc.errors },
      },
    },
    async () => ({
      items: options.local ? await options.local.describe(engine.database.db as never) : [],
    }),
  );

  // connections
  api.get(
    '/connections',
    {
      schema: {
        summary: 'List connections',
        tags: ['connections'],
        response: { 200: doc.listOf('Connection'), ...doc.errors },
      },
    },
    async (req) => {
      noQuery(req);
      const all = await engine.connections.list();
      return { items: await Promise.all(all.map(connectionOut)) };
    },
  );
  api.post(
    '/connections',
    {
      schema: {
        summary: 'Create a connection',
        tags: ['connections'],
        body: doc.connectionCreateBody,
        response: { 201: doc.ref('Connection'), ...doc.errors },
      },
    },
    async (req, reply) => {
      const conn = await engine.connections.create(body(req));
      return reply.code(201).send(await connectionOut(conn));
    },
  );
  api.get(
    '/connections/:id',
    {
      schema: {
        summary: 'Get a connection',
        tags: ['connections'],
        params: idParams,
        response: { 200: doc.ref('Connection'), ...doc.errors },
      },
    },
    async (req: Req) => connectionOut(await engine.connections.get(req.params.id)),
  );
  api.patch(
    '/connections/:id',
    {
      schema: {
        summary: 'Update a connection',
        tags: ['connections'],
        params: idParams,
        body: doc.connectionPatchBody,
        response: { 200: doc.ref('Connection'), ...doc.errors },
      },
    },
    async (req: Req) => {
      return connectionOut(await engine.connections.update(req.params.id, body(req)));
    },
  );
  api.delete(
    '/connections/:id',
    {
      schema: {
        summary: 'Delete a connection (409 while it has sync jobs)',
        tags: ['connections'],
        params: idParams,
        response: { 204: doc.noContent, ...doc.errors },
      },
    },
    async (req: Req, reply) => {
      await engine.connections.get(req.params.id);
      const jobs = await engine.jobs.list({ connectionId: req.params.id });
      if (jobs.length > 0) {
        throw new StateError(`connection ${req.params.id} has ${jobs.length} sync job(s); delete them first`);
      }
      await engine.connections.delete(req.params.id);
      return reply.code(204).send();
    },
  );
  api.post(
    '/connections/:id/test',
    {
      schema: {
        summary: 'Check a connection’s credentials against the provider',
        tags: ['connections'],
        params: idParams,
        response: { 200: doc.ref('ConnectionTest'), ...doc.errors },
      },
    },
    async (req: Req) => engine.connections.test(req.params.id),
  );

  // sync jobs
  api.get(
    '/sync-jobs',
    {
      schema: {
        summary: 'List sync jobs',
        tags: ['sync jobs'],
        querystring: { type: 'object', properties: { connectionId: { type: 'string', format: 'uuid' } } },
        response: { 200: doc.listOf('Job'), ...doc.errors },
      },
    },
    async (req) => {
      const q = query(jobListQuery, req);
      const jobs = await engine.jobs.list(q.connectionId ? { connectionId: q.connectionId } : {});
      return { items: await jobsOut(jobs) };
    },
  );
  api.post(
    '/sync-jobs',
    {
      schema: {
        summary: 'Create a sync job (the spec’s defaults are filled in)',
        tags: ['sync jobs'],
        body: doc.jobCreateBody,
        response: { 201: doc.ref('Job'), ...doc.errors },
      },
    },
    async (req, reply) => {
      const job = await withApiPaths(() => engine.jobs.create(toLibraryJob(body(req))));
      return reply.code(201).send(apiJob(job, null));
    },
  );
  api.get(
    '/sync-jobs/:id',
    {
      schema: {
        summary: 'Get a sync job',
        tags: ['sync jobs'],
        params: idParams,
        response: { 200: doc.ref('Job'), ...doc.errors },
      },
    },
    async (req: Req) => jobOut(req.params.id),
  );
  api.patch(
    '/sync-jobs/:id',
    {
      schema: {
        summary: 'Update a sync job',
        tags: ['sync jobs'],
        params: idParams,
        body: doc.jobPatchBody,
        response: { 200: doc.ref('Job'), ...doc.errors },
      },
    },
    async (req: Req) => {
      const current = await engine.jobs.get(req.params.id);
      await withApiPaths(() => engine.jobs.update(req.params.id, toLibraryJob(body(req), current)));
      return jobOut(req.params.id);
    },
  );
  api.delete(
    '/sync-jobs/:id',
    {
      schema: {
        summary: 'Delete a sync job (409 while it runs)',
        tags: ['sync jobs'],
        params: idParams,
        response: { 204: doc.noContent, ...doc.errors },
      },
    },
    async (req: Req, reply) => {
      await engine.jobs.delete(req.params.id);
      return reply.code(204).send();
    },
  );
  api.post(
    '/sync-jobs/:id/run',
    {
      schema: {
        summary: 'Run Now: queue a run (joins one already queued)',
        tags: ['sync jobs'],
        params: idParams,
        response: { 202: doc.ref('RunStarted'), ...doc.errors },
      },
    },
    async (req: Req, reply) => {
      const result = await engine.trigger(req.params.id, { trigger: 'manual' });
      return reply.code(202).send({ executionId: result.execution.id, coalesced: result.coalesced });
    },
  );

  // executions
  api.get(
    '/sync-jobs/:id/executions',
    {
      schema: {
        summary: 'A job’s executions, newest first',
        tags: ['executions'],
        params: idParams,
        querystring: {
          type: 'object',
          properties: {
            status: { type: 'string', description: 'Comma-separated statuses' },
            trigger: { type: 'string', description: 'Comma-separated triggers' },
            limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
            cursor: { type: 'string' },
          },
        },
        response: { 200: doc.listOf('Execution', true), ...doc.errors },
      },
    },
    async (req: Req) => {
      const q = query(executionListQuery, req);
      await engine.jobs.get(req.params.id);
      const page = await engine.executions.page(req.params.id, {
        ...(q.status ? { status: q.status } : {}),
        ...(q.trigger ? { trigger: q.trigger } : {}),
        ...(q.limit ? { limit: q.limit } : {}),
        cursor: q.cursor ?? null,
      });
      return { items: page.items.map(apiExecution), nextCursor: page.nextCursor };
    },
  );
  api.get(
    '/executions/:id',
    {
      schema: {
        summary: 'Get an execution',
        tags: ['executions'],
        params: idParams,
        response: { 200: doc.ref('Execution'), ...doc.errors },
      },
    },
    async (req: Req) => apiExecution(await engine.executions.get(req.params.id)),
  );
  api.post(
    '/executions/:id/cancel',
    {
      schema: {
        summary: 'Cancel a queued or running execution',
        tags: ['executions'],
        params: idParams,
        response: { 200: doc.ref('Execution'), ...doc.errors },
      },
    },
    async (req: Req) => {
      const current = await engine.executions.get(req.params.id);
      if (FINAL_STATUSES.includes(current.status)) {
        throw new StateError(`execution ${current.id} already finished (${current.status})`);
      }
      return apiExecution(await engine.cancel(req.params.id));
    },
  );
  api.get(
    '/executions/:id/failures',
    {
      schema: {
        summary: 'The record failures of an execution',
        tags: ['executions'],
        params: idParams,
        querystring: {
          type: 'object',
          properties: { limit: { type: 'integer', minimum: 1, maximum: 500 }, cursor: { type: 'string' } },
        },
        response: { 200: doc.listOf('Failure', true), ...doc.errors },
      },
    },
    async (req: Req) => {
      const q = query(pageQuery, req);
      await engine.executions.get(req.params.id);
      return engine.executions.failuresPage(req.params.id, {
        ...(q.limit ? { limit: q.limit } : {}),
        cursor: q.cursor ?? null,
      });
    },
  );
  api.get(
    '/executions/:id/events',
    {
      schema: {
        summary: 'Progress as Server-Sent Events',
        description:
          '`event: progress` with the execution while it runs, then `event: done` with the final execution; ' +
          'the stream then ends. Accepts `?access_token=` for EventSource clients.',
        tags: ['executions'],
        params: idParams,
        querystring: {
          type: 'object',
          properties: {
            access_token: { type: 'string', description: 'The API token (EventSource cannot send headers)' },
          },
        },
        response: {
          200: {
            description: 'Server-Sent Events; each `data` is an Execution',
            content: { 'text/event-stream': { schema: { type: 'string' } } },
          },
          ...doc.errors,
        },
      },
    },
    async (req: Req, reply) => {
      let current = await engine.executions.get(req.params.id);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      let open = true;
      req.raw.on('close', () => {
        open = false;
      });
      const send = (event: string, e: SyncExecution) =>
        res.write(`event: ${event}\nid: ${e.id}\ndata: ${JSON.stringify(apiExecution(e))}\n\n`);
      const interval = options.progressIntervalMs ?? 500;
      send('progress', current);
      let lastSent = JSON.stringify(current);
      let idle = 0;
      while (open && !FINAL_STATUSES.includes(current.status)) {
        await new Promise((r) => setTimeout(r, interval));
        if (!open) break;
        try {
          current = await engine.executions.get(req.params.id);
        } catch {
          break; // deleted with its job
        }
        const now = JSON.stringify(current);
        if (now !== lastSent && !FINAL_STATUSES.includes(current.status)) {
          send('progress', current);
          lastSent = now;
          idle = 0;
        } else if (++idle * interval >= 15_000) {
          res.write(': keep-alive\n\n');
          idle = 0;
        }
      }
      if (open && FINAL_STATUSES.includes(current.status)) send('done', current);
      res.end();
    },
  );

  // dead letters
  api.get(
    '/sync-jobs/:id/dead-letters',
    {
      schema: {
        summary: 'A job’s dead letter queue (records that failed in 3+ executions)',
        tags: ['dead letters'],
        params: idParams,
        querystring: {
          type: 'object',
          properties: {
            status: { enum: ['open', 'retried', 'resolved', 'discarded'], default: 'open' },
            limit: { type: 'integer', minimum: 1, maximum: 500 },
            cursor: { type: 'string' },
          },
        },
        response: { 200: doc.listOf('DeadLetter', true), ...doc.errors },
      },
    },
    async (req: Req) => {
      const q = query(deadLetterListQuery, req);
      await engine.jobs.get(req.params.id);
      const page = await engine.deadLetters.page(req.params.id, {
        ...(q.status ? { status: q.status } : {}),
        ...(q.limit ? { limit: q.limit } : {}),
        cursor: q.cursor ?? null,
      });
      return { items: page.items.map(apiDeadLetter), nextCursor: page.nextCursor };
    },
  );
  api.post(
    '/dead-letters/:id/retry',
    {
      schema: {
        summary: 'Retry a dead letter’s record now (a single-record run)',
        tags: ['dead letters'],
        params: idParams,
        response: { 202: doc.ref('RetryStarted'), ...doc.errors },
      },
    },
    async (req: Req, reply) => {
      const started = await engine.deadLetters.startRetry(req.params.id);
      started.done.catch((err: unknown) =>
        req.log.error({ deadLetterId: req.params.id, err: errorMessage(err) }, 'dead letter retry failed'),
      );
      return reply.code(202).send({ executionId: started.execution.id });
    },
  );
  api.post(
    '/dead-letters/:id/discard',
    {
      schema: {
        summary: 'Discard a dead letter',
        tags: ['dead letters'],
        params: idParams,
        response: { 200: doc.ref('DeadLetter'), ...doc.errors },
      },
    },
    async (req: Req) => apiDeadLetter(await engine.deadLetters.discard(req.params.id)),
  );
}

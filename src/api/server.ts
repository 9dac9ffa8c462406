/**
 * The HTTP server: REST API under `/api/v1`, provider webhooks, health, metrics, OpenAPI, and the web UI.
 *
 * Errors have one shape, `{ error: { code, message, details? } }`: 400 `validation_failed` with a `path` per
 * invalid field (or `bad_request`: malformed or too deeply nested JSON, a bad URL, a value the database
 * refuses), 401 `unauthorized`, 403 `forbidden` (a foreign Host or a cross-site write to a server without a
 * token), 404 `not_found`, 409 `conflict`, 413 `payload_too_large`, 414 `uri_too_long`, 415
 * `unsupported_media_type` (API bodies are application/json only).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
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
import {
  CredentialsUnavailableError,
  errorMessage,
  NotFoundError,
  ProviderError,
  StateError,
  ValidationError,
} from '../domain/errors.ts';
import { TRANSFORM_NAMES } from '../domain/transforms.ts';
import { type Connection, FINAL_STATUSES, type SyncExecution, type SyncJob } from '../domain/types.ts';
import { jsonTooDeep, MAX_INPUT_DEPTH, parseInput } from '../domain/validate.ts';
import type { PreviewItem } from '../engine/runner.ts';
import type { SyncEngine } from '../sync-engine.ts';
import { registerAlertRoutes } from './alert-routes.ts';
import type { LocalSide } from './config.ts';
import { registerFleetRoutes } from './fleet-routes.ts';
import { createMetrics } from './metrics.ts';
import * as doc from './openapi.ts';
import { registerRestBuilderRoutes } from './rest-builder-routes.ts';
import {
  apiConnection,
  apiDeadLetter,
  apiExecution,
  apiJob,
  conflictListQuery,
  connectionListQuery,
  deadLetterListQuery,
  executionListQuery,
  jobDeleteQuery,
  jobListQuery,
  pageQuery,
  recordQuery,
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
  /**
   * The URL providers call this server at, when it differs from what the server sees (behind a TLS-terminating
   * proxy): webhook signatures that cover the URL (HubSpot v3) are checked against it. Default: as seen.
   */
  publicUrl?: string | null;
}

/** A public base URL: http(s), no query or fragment; returned without its trailing slash. */
export function checkPublicUrl(value: string): string {
  let url: URL | null = null;
  try {
    url = new URL(value);
  } catch {
    // reported below
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.search || url.hash) {
    throw new ValidationError([
      { path: 'publicUrl', message: `must be an http(s) URL without query or fragment (got "${value}")` },
    ]);
  }
  return url.href.replace(/\/+$/, '');
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
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  408: 'request_timeout',
  409: 'conflict',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  429: 'too_many_requests',
  431: 'headers_too_large',
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

/** The shortest API token accepted at start. */
export const MIN_TOKEN_LENGTH = 32;

/** The one route that takes the token in its query (`?access_token=`): EventSource cannot send headers. */
const EVENTS_ROUTE = '/api/v1/executions/:id/events';

/** Refuses an API token that is too short to resist guessing. */
export function checkApiToken(token: string | null | undefined): void {
  if (token && token.length < MIN_TOKEN_LENGTH) {
    throw new ValidationError([
      {
        path: 'OTESSE_SYNC_API_TOKEN',
        message: `must be at least ${MIN_TOKEN_LENGTH} characters (e.g. \`openssl rand -hex 32\`)`,
      },
    ]);
  }
}

/** Constant-time comparison of a presented token with the configured one. */
function tokenMatches(presented: string | undefined, expected: Buffer): boolean {
  if (!presented) return false;
  return timingSafeEqual(digest(presented), expected);
}

// ── request guards and security headers ──────────────────────────────────────

/**
 * Whether a Host header names this machine's loopback interface: `localhost`, `127.x.x.x` or `[::1]`, with
 * any port. A token-less server answers only to these, so a page whose name an attacker re-points at
 * 127.0.0.1 (DNS rebinding) is refused.
 */
export function isLoopbackHost(host: string | undefined): boolean {
  const m = host === undefined ? null : /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::\d{1,5})?$/.exec(host.trim());
  if (!m) return false;
  const name = m[1]!.toLowerCase();
  return name === 'localhost' || name === '[::1]' || (isIP(name) === 4 && name.startsWith('127.'));
}

/** The UI: its own scripts, styles, images and API only; never framed, no plugins, no foreign forms. */
const UI_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');
/** Swagger UI (/api/docs) sets inline styles. */
const DOCS_CSP = UI_CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'");
/** JSON, metrics and errors: nothing to load, nothing to frame. */
const DATA_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function securityHeaders(reply: FastifyReply, path: string): void {
  const isData = /^\/(api\/v1|api\/openapi|webhooks|healthz|readyz|metrics)(\/|\.|$)/.test(path);
  reply.header('content-security-policy', path.startsWith('/api/docs') ? DOCS_CSP : isData ? DATA_CSP : UI_CSP);
  reply.header('x-content-type-options', 'nosniff');
  reply.header('x-frame-options', 'DENY');
  reply.header('referrer-policy', 'no-referrer');
}

/**
 * Why a state-changing request comes from another site, or null: browsers mark cross-site requests with
 * `Sec-Fetch-Site` and `Origin`; clients that are not browsers send neither.
 */
function crossSiteReason(req: FastifyRequest): string | null {
  const site = req.headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') return `Sec-Fetch-Site: ${site}`;
  const origin = req.headers.origin;
  if (origin === undefined) return null;
  let originHost: string | null = null;
  try {
    originHost = new URL(origin).host.toLowerCase();
  } catch {
    // "null" (sandboxed frames, file: pages) and garbage are foreign
  }
  return originHost !== null && originHost === req.headers.host?.toLowerCase() ? null : `Origin: ${origin}`;
}

const BODYLESS_METHODS = new Set(['GET', 'HEAD']);
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The SQLSTATE of a PostgreSQL error (node-postgres and PGlite both set `code`), through its causes. */
function sqlState(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 5 && typeof e === 'object' && e !== null; i++, e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

export async function buildServer(options: ApiServerOptions): Promise<FastifyInstance> {
  const { engine } = options;
  checkApiToken(options.token);
  const publicUrl = options.publicUrl ? checkPublicUrl(options.publicUrl) : null;
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger as unknown as FastifyBaseLogger } : { logger: false }),
    bodyLimit: options.bodyLimit ?? 256 * 1024,
    routerOptions: { ignoreTrailingSlash: true },
    // Bad URLs (`/connections/%zz`), over-long ids: the same error shape as everything else.
    frameworkErrors: (err, req, reply) => {
      securityHeaders(reply, req.url);
      const status = err.statusCode ?? 400;
      return sendError(reply, status, STATUS_CODES[status] ?? 'bad_request', err.message);
    },
    // Requests Node's HTTP parser refuses (bad request line, headers too large): still the same shape.
    clientErrorHandler: (err, socket) => {
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
      const body = JSON.stringify({ error: { code: STATUS_CODES[status], message: 'malformed HTTP request' } });
      if (socket.writable) {
        socket.end(
          `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
            `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        );
      } else socket.destroy();
    },
  });
  // Requests are validated with zod in the handlers (one error shape, field paths); the JSON Schemas on the
  // routes document them in OpenAPI. Responses are plain JSON (the schemas must not strip fields).
  app.setValidatorCompiler(() => (data) => ({ value: data }));
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  // Bodies are JSON only (text/plain is what a cross-site form can send), and their nesting is capped before
  // they are parsed: parsing, the prototype-poisoning scan and validation all recurse.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, text, done) => {
    if (jsonTooDeep(text as string)) {
      const err = new Error(`the JSON body is nested more than ${MAX_INPUT_DEPTH} levels deep`);
      return done(Object.assign(err, { statusCode: 400 }), undefined);
    }
    return parseJson(req, text as string, done);
  });

  // Every request: security headers; without a token, loopback names only and no cross-site writes; API
  // bodies must be JSON. Webhooks are exempt (providers send their own types; the signature is the auth).
  app.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?')[0]!;
    securityHeaders(reply, path);
    if (path.startsWith('/webhooks/')) return;
    if (!options.token) {
      if (!isLoopbackHost(req.headers.host)) {
        return sendError(
          reply,
          403,
          'forbidden',
          `Host "${req.headers.host ?? ''}" refused: a server without an API token answers only to localhost, ` +
            '127.0.0.1 and [::1] (set OTESSE_SYNC_API_TOKEN to serve other names)',
        );
      }
      const reason = SAFE_METHODS.has(req.method) ? null : crossSiteReason(req);
      if (reason !== null) {
        return sendError(reply, 403, 'forbidden', `cross-site request refused (${reason})`);
      }
    }
    if (path.startsWith('/api/') && !BODYLESS_METHODS.has(req.method)) {
      const type = req.headers['content-type'];
      const length = req.headers['content-length'];
      const hasBody = req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
      const mediaType = type?.split(';')[0]?.trim().toLowerCase();
      if ((hasBody || type !== undefined) && mediaType !== 'application/json') {
        return sendError(reply, 415, 'unsupported_media_type', 'request bodies must be application/json');
      }
    }
  });

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
    if (err instanceof CredentialsUnavailableError) return sendError(reply, 503, err.code, err.message);
    if (err instanceof ProviderError && (err.kind === 'config' || err.kind === 'record')) {
      return sendError(reply, 400, 'bad_request', err.message);
    }
    // A PostgreSQL data exception (SQLSTATE class 22: a value out of range, malformed, with a NUL…) comes
    // from a value of the request that validation let through: the client's error, not the server's.
    if (sqlState(err)?.startsWith('22')) {
      req.log.warn({ err: errorMessage(err) }, 'request refused by the database');
      return sendError(reply, 400, 'bad_request', `the database refused a value of the request: ${err.message}`);
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
  app.get('/readyz', { schema: { hide: true } }, async (req, reply) => {
    const { error, ...health } = await engine.health();
    const ready = health.database && health.pendingMigrations.length === 0;
    // The database's own message (host names, users) goes to the log, not to whoever asks.
    if (!health.database) req.log.error({ err: error }, 'readiness: the database is unreachable');
    const reason = !health.database ? 'database unreachable' : ready ? undefined : 'migrations pending';
    return reply
      .code(ready ? 200 : 503)
      .send({ status: ready ? 'ready' : 'not_ready', ...(reason ? { reason } : {}), ...health });
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
            url: `${publicUrl ?? `${req.protocol}://${req.host}`}${req.url}`,
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
        // The scheme is case-insensitive (RFC 9110 §11.1).
        const bearer = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.authorization ?? '')?.[1];
        // EventSource cannot send headers: the progress stream's route (that route only) also takes ?access_token=.
        const token = (req.query as { access_token?: unknown } | undefined)?.access_token;
        const query = req.routeOptions.url === EVENTS_ROUTE && typeof token === 'string' ? token : undefined;
        if (!tokenMatches(bearer ?? query, expected)) {
          return sendError(reply, 401, 'unauthorized', 'missing or wrong API token (Authorization: Bearer <token>)');
        }
      });
      registerRoutes(api, { ...options, publicUrl });
      registerAlertRoutes(api, engine);
      registerRestBuilderRoutes(api, engine);
      registerFleetRoutes(api, engine);
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
    const ids = jobs.map((j) => j.id);
    const [last, open] = await Promise.all([engine.executions.latest(ids), engine.conflicts.countOpen(ids)]);
    return jobs.map((j) => apiJob(j, last.get(j.id) ?? null, open.get(j.id) ?? 0));
  };
  const jobOut = async (id: string) => (await jobsOut([await engine.jobs.get(id)]))[0]!;
  /** Connections with their job counts and newest runs, read in two queries whatever their number of jobs. */
  const connectionsOut = async (conns: Connection[]) => {
    const summaries = await engine.connections.summaries(conns.map((c) => c.id));
    return conns.map((conn) =>
      apiConnection(conn, {
        jobCount: summaries.get(conn.id)?.jobCount ?? 0,
        lastRun: summaries.get(conn.id)?.lastRun ?? null,
        webhookUrl: `${options.publicUrl ?? ''}/webhooks/${conn.id}`,
      }),
    );
  };
  const connectionOut = async (conn: Connection) => (await connectionsOut([conn]))[0]!;

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
        summary: 'List connections, a page at a time (oldest first), optionally searched by name',
        tags: ['connections'],
        querystring: {
          type: 'object',
          properties: {
            q: { type: 'string', maxLength: 200, description: 'Only connections whose name contains this (any case)' },
            limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
            cursor: { type: 'string' },
          },
        },
        response: { 200: doc.searchListOf('Connection'), ...doc.errors },
      },
    },
    async (req) => {
      const q = query(connectionListQuery, req);
      const page = await engine.connections.page({ q: q.q ?? null, cursor: q.cursor ?? null, limit: q.limit });
      return { items: await connectionsOut(page.items), nextCursor: page.nextCursor, total: page.total };
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
        summary: 'List sync jobs (archived ones aside), a page at a time (oldest first), optionally searched by name',
        description:
          'All jobs or one connection’s. Each job carries its last run (`lastRun`) and open conflicts, read for the ' +
          'whole page at once. `total` counts every job that matches (all pages); follow `nextCursor` for the rest.',
        tags: ['sync jobs'],
        querystring: {
          type: 'object',
          properties: {
            connectionId: { type: 'string', format: 'uuid' },
            q: { type: 'string', maxLength: 200, description: 'Only jobs whose name contains this (any case)' },
            limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
            cursor: { type: 'string' },
          },
        },
        response: { 200: doc.searchListOf('Job'), ...doc.errors },
      },
    },
    async (req) => {
      const q = query(jobListQuery, req);
      const page = await engine.jobs.page({
        ...(q.connectionId ? { connectionId: q.connectionId } : {}),
        q: q.q ?? null,
        cursor: q.cursor ?? null,
        limit: q.limit,
      });
      return { items: await jobsOut(page.items), nextCursor: page.nextCursor, total: page.total };
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
  const previewOut = (items: PreviewItem[]) => {
    const summary = { create: 0, update: 0, skip: 0, conflict: 0, fail: 0, delete: 0 };
    for (const item of items) summary[item.action]++;
    return { items, summary };
  };
  const previewLimit = (value: unknown): number | undefined => {
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 200) {
      throw new ValidationError([{ path: 'limit', message: 'must be an integer between 1 and 200' }]);
    }
    return value;
  };
  api.get(
    '/sync-jobs/:id/records/:key',
    {
      schema: {
        summary: 'Inspect one record of a job: reference, both sides live, mapped content, history, failures',
        description:
          'The record by its id on `side` (default provider). Both sides are read live (credentials are never ' +
          'shown); the history lists the executions that changed the record or failed it.',
        tags: ['sync jobs'],
        params: {
          type: 'object',
          required: ['id', 'key'],
          properties: { id: { type: 'string', format: 'uuid' }, key: { type: 'string', maxLength: 500 } },
        },
        querystring: { type: 'object', properties: { side: { enum: ['local', 'provider'] } } },
        response: { 200: doc.ref('RecordInspection'), ...doc.errors },
      },
    },
    async (req) => {
      const { id, key } = req.params as { id: string; key: string };
      const q = query(recordQuery, req);
      return engine.inspectRecord(id, key, q.side ?? 'provider');
    },
  );
  api.post(
    '/sync-jobs/preview',
    {
      schema: {
        summary: 'Preview a job that is not saved: what its first run would do, writing nothing',
        description:
          'Reads up to `limit` source records per leg and returns per record the planned action (create, update, ' +
          'skip, conflict, fail, delete) with a field-level diff and any mapping error. Nothing is written anywhere: ' +
          'no provider or local write, no reference, no cursor, no execution.',
        tags: ['sync jobs'],
        body: doc.draftPreviewBody,
        response: { 200: doc.ref('Preview'), ...doc.errors },
      },
    },
    async (req) => {
      const { job, limit, ...rest } = body(req) as Record<string, unknown>;
      const unknown = Object.keys(rest);
      if (unknown.length > 0 || job === undefined) {
        throw new ValidationError([
          ...unknown.map((k) => ({ path: k, message: 'is not a field of a preview (job, limit)' })),
          ...(job === undefined ? [{ path: 'job', message: 'is required: the job as POST /sync-jobs takes it' }] : []),
        ]);
      }
      const n = previewLimit(limit);
      try {
        const draft = await withApiPaths(async () => toLibraryJob(job));
        return previewOut(await withApiPaths(() => engine.preview({ draft }, n === undefined ? {} : { limit: n })));
      } catch (err) {
        if (err instanceof ValidationError) {
          throw new ValidationError(err.issues.map((i) => ({ ...i, path: i.path ? `job.${i.path}` : 'job' })));
        }
        throw err;
      }
    },
  );
  api.post(
    '/sync-jobs/:id/preview',
    {
      schema: {
        summary: 'Preview the next run of a job: the planned action per record, writing nothing',
        description:
          'Reads up to `limit` source records per leg from where the next run would (the job’s cursor) and returns ' +
          'per record the planned action with a field-level diff (the target’s current value → the new value) and ' +
          'any mapping error. Nothing is written anywhere and no execution is recorded.',
        tags: ['sync jobs'],
        params: idParams,
        body: doc.previewBody,
        response: { 200: doc.ref('Preview'), ...doc.errors },
      },
    },
    async (req: Req) => {
      const { limit, ...rest } = body(req) as Record<string, unknown>;
      const unknown = Object.keys(rest);
      if (unknown.length > 0) {
        throw new ValidationError(unknown.map((k) => ({ path: k, message: 'is not a field of a preview (limit)' })));
      }
      const n = previewLimit(limit);
      return previewOut(await engine.preview(req.params.id, n === undefined ? {} : { limit: n }));
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
        summary: 'Delete a sync job: archive it, keeping its history; or purge it (409 while it runs)',
        description:
          'Without `purge`, the job is archived: it leaves the job lists, schedules and webhooks, cannot be run or edited, ' +
          'and GET /sync-jobs/{id}, its executions, failures and dead letters stay readable (`archivedAt` is set). ' +
          '`purge=true&confirm=<the job id>` deletes the job with all its executions, failures and dead letters.',
        tags: ['sync jobs'],
        params: idParams,
        querystring: {
          type: 'object',
          properties: {
            purge: { type: 'boolean', description: 'Delete the job and its whole history instead of archiving it' },
            confirm: { type: 'string', description: 'Required with purge=true: the id of the job being purged' },
          },
        },
        response: { 204: doc.noContent, ...doc.errors },
      },
    },
    async (req: Req, reply) => {
      const q = query(jobDeleteQuery, req);
      const purge = q.purge === 'true';
      if (purge && q.confirm !== req.params.id) {
        throw new ValidationError([
          {
            path: 'confirm',
            message: 'a purge deletes the job with its whole history: confirm must be the job id',
          },
        ]);
      }
      await engine.jobs.delete(req.params.id, { purge });
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
    '/executions/:id/log',
    {
      schema: {
        summary: 'The run log of an execution, oldest first',
        description:
          'Start, each page committed (records, duration), provider retries and rate-limit waits (status, ' +
          'Retry-After, time waited), breaker trips, timeouts, cancellation, release and resume, halt and final ' +
          'status. At most 1,000 page and retry entries per execution (a `log_truncated` entry says how many more).',
        tags: ['executions'],
        params: idParams,
        querystring: {
          type: 'object',
          properties: { limit: { type: 'integer', minimum: 1, maximum: 500 }, cursor: { type: 'string' } },
        },
        response: { 200: doc.listOf('LogEntry', true), ...doc.errors },
      },
    },
    async (req: Req) => {
      const q = query(pageQuery, req);
      await engine.executions.get(req.params.id);
      return engine.executions.logPage(req.params.id, {
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
    '/executions/:id/apply-deletions',
    {
      schema: {
        summary: 'Apply the deletions a run’s mass-delete protection held back',
        description:
          'For an execution with haltKind mass_delete: a new execution (trigger manual) deletes the held records ' +
          'that are still gone at the source. 409 when the execution holds no deletions.',
        tags: ['executions'],
        params: idParams,
        response: { 202: doc.ref('RetryStarted'), ...doc.errors },
      },
    },
    async (req: Req, reply) => {
      const started = await engine.executions.startApplyDeletions(req.params.id);
      started.done.catch((err: unknown) =>
        req.log.error({ executionId: req.params.id, err: errorMessage(err) }, 'apply deletions failed'),
      );
      return reply.code(202).send({ executionId: started.execution.id });
    },
  );
  // conflicts (manual strategy)
  api.get(
    '/sync-jobs/:id/conflicts',
    {
      schema: {
        summary: 'A job’s conflicts left for a person (manual strategy), newest first',
        tags: ['conflicts'],
        params: idParams,
        querystring: {
          type: 'object',
          properties: {
            status: { enum: ['open', 'resolved'] },
            limit: { type: 'integer', minimum: 1, maximum: 500 },
            cursor: { type: 'string' },
          },
        },
        response: { 200: doc.listOf('Conflict', true), ...doc.errors },
      },
    },
    async (req: Req) => {
      const q = query(conflictListQuery, req);
      await engine.jobs.get(req.params.id);
      const page = await engine.conflicts.page(req.params.id, {
        ...(q.status ? { status: q.status } : {}),
        ...(q.limit ? { limit: q.limit } : {}),
        cursor: q.cursor ?? null,
      });
      return { items: page.items, nextCursor: page.nextCursor };
    },
  );
  api.post(
    '/conflicts/:id/resolve',
    {
      schema: {
        summary: 'Resolve a conflict: one side wins, or a side per differing field',
        description:
          'Writes the chosen content to the other side (provider first, then the local row and the reference in ' +
          'one transaction) and records who and when. 409 when it is already resolved or a side refuses the write ' +
          '(the conflict stays open).',
        tags: ['conflicts'],
        params: idParams,
        body: doc.conflictResolveBody,
        response: { 200: doc.ref('Conflict'), ...doc.errors },
      },
    },
    async (req: Req) => engine.conflicts.resolve(req.params.id, req.body ?? {}),
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

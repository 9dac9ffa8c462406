/**
 * The REST routes of alerts under `/api/v1`: notification channels, their "Send test" and their delivery log.
 * Errors take the server's one shape (server.ts's error handler); the signing secret is in the response to the
 * creation (and to `rotateSecret`) only.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import * as z from 'zod';
import type { AlertDelivery, ChannelWithSecret, NotificationChannel } from '../domain/alerts.ts';
import { parseInput } from '../domain/validate.ts';
import type { SyncEngine } from '../sync-engine.ts';
import * as doc from './openapi.ts';
import { pageQuery } from './shapes.ts';

const idParams = {
  type: 'object',
  properties: { id: { type: 'string', format: 'uuid' } },
  required: ['id'],
} as const;

const channelListQuery = z.strictObject({ jobId: z.string().optional() });

type Req = FastifyRequest<{ Params: { id: string } }>;

/** A channel as the API returns it. */
export function apiChannel(c: NotificationChannel) {
  return {
    id: c.id,
    name: c.name,
    type: c.type,
    url: c.url,
    events: c.events,
    jobId: c.jobId,
    enabled: c.enabled,
    lastDelivery: c.lastDelivery,
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
  };
}

export function apiChannelWithSecret(c: ChannelWithSecret) {
  return { ...apiChannel(c), signingSecret: c.signingSecret };
}

export function apiDelivery(d: AlertDelivery) {
  return { ...d };
}

/** Registers the alert routes on the `/api/v1` instance. */
export function registerAlertRoutes(api: FastifyInstance, engine: SyncEngine): void {
  const body = (req: FastifyRequest) => (req.body === undefined || req.body === null ? {} : req.body);
  const tags = ['alerts'];

  api.get(
    '/notification-channels',
    {
      schema: {
        summary: 'List notification channels (all, or those covering one sync job)',
        tags,
        querystring: {
          type: 'object',
          properties: {
            jobId: { type: 'string', format: 'uuid', description: 'The job’s own channels and the global ones' },
          },
        },
        response: { 200: doc.listOf('NotificationChannel'), ...doc.errors },
      },
    },
    async (req) => {
      const q = parseInput(channelListQuery, req.query ?? {});
      const items = await engine.alerts.listChannels(q.jobId === undefined ? {} : { jobId: q.jobId });
      return { items: items.map(apiChannel) };
    },
  );
  api.post(
    '/notification-channels',
    {
      schema: {
        summary: 'Create a notification channel (its signing secret is in this response only)',
        description:
          'Webhook channels receive each alert as a JSON POST signed with `Otesse-Signature: t=<unix seconds>,' +
          'v1=<hex HMAC-SHA256 of "<t>.<raw body>" keyed with the signing secret>`; Slack channels receive a ' +
          'message (`text`, `blocks`). A URL the outbound request policy refuses, or one carrying credentials, is a ' +
          '400 at `url`.',
        tags,
        body: doc.channelCreateBody,
        response: { 201: doc.ref('NotificationChannelWithSecret'), ...doc.errors },
      },
    },
    async (req, reply) => reply.code(201).send(apiChannelWithSecret(await engine.alerts.createChannel(body(req)))),
  );
  api.get(
    '/notification-channels/:id',
    {
      schema: {
        summary: 'Get a notification channel',
        tags,
        params: idParams,
        response: { 200: doc.ref('NotificationChannel'), ...doc.errors },
      },
    },
    async (req: Req) => apiChannel(await engine.alerts.getChannel(req.params.id)),
  );
  api.patch(
    '/notification-channels/:id',
    {
      schema: {
        summary: 'Update a notification channel (rotateSecret: a new signing secret, in this response only)',
        tags,
        params: idParams,
        body: doc.channelPatchBody,
        response: { 200: doc.ref('NotificationChannelWithSecret'), ...doc.errors },
      },
    },
    async (req: Req) => apiChannelWithSecret(await engine.alerts.updateChannel(req.params.id, body(req))),
  );
  api.delete(
    '/notification-channels/:id',
    {
      schema: {
        summary: 'Delete a notification channel and its delivery log',
        tags,
        params: idParams,
        response: { 204: doc.noContent, ...doc.errors },
      },
    },
    async (req: Req, reply) => {
      await engine.alerts.deleteChannel(req.params.id);
      return reply.code(204).send();
    },
  );
  api.post(
    '/notification-channels/:id/test',
    {
      schema: {
        summary: 'Send test: deliver a `test` alert now (one attempt) and return its delivery log entry',
        description:
          'Answers 200 whatever the receiver answered: the entry says (`outcome`, `statusCode`, `error`). A test is ' +
          'not retried.',
        tags,
        params: idParams,
        response: { 200: doc.ref('AlertDelivery'), ...doc.errors },
      },
    },
    async (req: Req) => apiDelivery(await engine.alerts.sendTest(req.params.id)),
  );
  api.get(
    '/notification-channels/:id/deliveries',
    {
      schema: {
        summary: 'A notification channel’s delivery log (one entry per attempt), newest first',
        tags,
        params: idParams,
        querystring: {
          type: 'object',
          properties: { limit: { type: 'integer', minimum: 1, maximum: 500 }, cursor: { type: 'string' } },
        },
        response: { 200: doc.listOf('AlertDelivery', true), ...doc.errors },
      },
    },
    async (req: Req) => {
      const q = parseInput(pageQuery, req.query ?? {});
      const page = await engine.alerts.deliveries(req.params.id, {
        ...(q.limit ? { limit: q.limit } : {}),
        cursor: q.cursor ?? null,
      });
      return { items: page.items.map(apiDelivery), nextCursor: page.nextCursor };
    },
  );
}

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, serve } from '../src/api/serve.ts';
import { createMemoryProvider } from '../src/connectors/memory.ts';
import { CUSTOMERS_DDL, cid, schemaFor, TEST_DATABASES, waitFor } from './helpers/db.ts';

/**
 * Alerts through the real server (`serve()`: REST API, worker, pg-boss queue) to real HTTP receivers on
 * 127.0.0.1, on PGlite and PostgreSQL: a failed run's alert arrives signed (the HMAC is checked here with
 * node:crypto, as a receiver would), is retried after a 500 (the delivery log shows both attempts), is not sent
 * again for a second failure in a row, and the recovery carries the digest of what repeated; dead letters are
 * announced once per execution; Slack's message format; the outbound guard refusing a channel URL at creation;
 * "Send test". Waits poll the API (or the alert state) with a deadline; nothing sleeps a fixed time.
 */

// biome-ignore lint/suspicious/noExplicitAny: JSON
type Json = any;
const PUBLIC_URL = 'https://sync.example.test';
const FINAL = ['completed', 'completed_with_errors', 'failed', 'timed_out', 'cancelled'];

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  raw: string;
  body: Json;
}

/** An HTTP receiver: records every request; answers each path with the statuses queued for it, then 200. */
async function startReceiver() {
  const received: Received[] = [];
  const answers = new Map<string, number[]>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const path = req.url ?? '/';
      received.push({ path, headers: req.headers, raw, body: raw ? JSON.parse(raw) : null });
      const status = answers.get(path)?.shift() ?? 200;
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(status === 200 ? 'ok' : `receiver says ${status}\u0007 ${'x'.repeat(400)}`);
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    at: (path: string) => received.filter((r) => r.path === path),
    answer: (path: string, ...statuses: number[]) => answers.set(path, statuses),
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}

/** Checks `Otesse-Signature: t=…,v1=…` the way a receiver would: HMAC-SHA256 of "<t>.<raw body>" with the secret. */
function validSignature(r: Received, secret: string): boolean {
  const header = r.headers['otesse-signature'];
  const m = typeof header === 'string' ? /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header) : null;
  if (!m) return false;
  const t = Number(m[1]);
  if (Math.abs(Date.now() / 1000 - t) > 300) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${r.raw}`).digest();
  return timingSafeEqual(Buffer.from(m[2]!, 'hex'), expected);
}

describe.each(TEST_DATABASES)('alerts through the real server ($name)', (db) => {
  const memory = createMemoryProvider({ entityTypes: ['customer'] });
  const schema = schemaFor(`alerts-${db.name}`);
  let dir: string;
  let server: RunningServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let connectionId: string;

  const api = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> => {
    const res = await fetch(`${server.url}/api/v1${path}`, {
      method,
      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  const query = async <T>(text: string, params: unknown[] = []): Promise<T[]> => {
    const d = server.engine.database;
    if (d.kind === 'pglite') return (await d.pglite!.query<T>(text, params)).rows;
    return (await d.pool!.query(text, params)).rows as T[];
  };
  /** An inbound job of the memory provider's customers; not retried on failure unless `extra` says so. */
  const createJob = async (name: string, extra: Record<string, unknown> = {}) => {
    const job = await api('POST', '/sync-jobs', {
      connectionId,
      name,
      entityType: 'customer',
      localEntity: 'customers',
      direction: 'inbound',
      retryOnFailure: false,
      fieldMappings: [
        { sourceField: 'name', targetField: 'name' },
        { sourceField: 'email', targetField: 'email' },
      ],
      ...extra,
    });
    expect(job.status).toBe(201);
    return job.body as { id: string; name: string };
  };
  /** Run Now, then the execution once final. */
  const run = async (jobId: string): Promise<Json> => {
    const started = await api('POST', `/sync-jobs/${jobId}/run`);
    expect(started.status).toBe(202);
    return waitFor(
      async () => {
        const e = (await api('GET', `/executions/${started.body.executionId}`)).body;
        return FINAL.includes(e.status) ? e : null;
      },
      'the run to finish',
      30_000,
    );
  };
  const deliveries = async (channelId: string): Promise<Json[]> =>
    (await api('GET', `/notification-channels/${channelId}/deliveries`)).body.items;
  const waitDeliveries = (channelId: string, count: number, what: string) =>
    waitFor(
      async () => {
        const items = await deliveries(channelId);
        return items.length >= count ? items : null;
      },
      what,
      30_000,
    );
  const createChannel = async (body: Record<string, unknown>) => {
    const created = await api('POST', '/notification-channels', body);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    return created.body;
  };

  beforeAll(async () => {
    receiver = await startReceiver();
    dir = mkdtempSync(join(tmpdir(), 'otesse-alerts-'));
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ localEntities: { customers: { table: 'customers' } } }));
    server = await serve({
      database: db.name === 'pglite' ? join(dir, 'data') : db.url!,
      schema,
      host: '127.0.0.1',
      port: 0,
      configPath: config,
      token: null,
      logger: pino({ enabled: false }),
      encryptionKeys: [randomBytes(32).toString('hex')],
      providers: [memory.definition],
      publicUrl: PUBLIC_URL,
      // Retries about a second apart, so a retried delivery shows within the test.
      alerts: { retry: { delaySeconds: 1, maxDelaySeconds: 1 } },
    });
    await server.engine.database.exec(CUSTOMERS_DDL);
    const conn = await api('POST', '/connections', { name: 'Memory', provider: 'memory' });
    expect(conn.status).toBe(201);
    connectionId = conn.body.id;
  }, 120_000);
  afterAll(async () => {
    if (db.name === 'postgres' && server) {
      await server.engine.database.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await server.engine.database.exec(`DROP SCHEMA IF EXISTS "${schema}_queue" CASCADE`);
    }
    await server?.close();
    await receiver?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a channel URL the outbound guard refuses, or one with credentials, at creation (400 at url)', async () => {
    const before = (await api('GET', '/notification-channels')).body.items.length;
    for (const url of ['http://169.254.169.254/latest/meta-data', 'http://metadata.google.internal/x']) {
      const refused = await api('POST', '/notification-channels', {
        name: 'Metadata',
        type: 'webhook',
        url,
        events: ['execution.failed'],
      });
      expect(refused.status).toBe(400);
      expect(refused.body.error.code).toBe('validation_failed');
      expect(refused.body.error.details).toEqual([
        { path: 'url', message: expect.stringMatching(/^is refused by the outbound request policy: .*never allowed/) },
      ]);
    }
    const withCredentials = await api('POST', '/notification-channels', {
      name: 'Creds',
      type: 'webhook',
      url: `http://user:secret@${receiver.url.slice('http://'.length)}/x`,
      events: ['execution.failed'],
    });
    expect(withCredentials.status).toBe(400);
    expect(withCredentials.body.error.details).toEqual([
      { path: 'url', message: expect.stringContaining('must not carry credentials') },
    ]);
    const bad = await api('POST', '/notification-channels', {
      name: 'Bad',
      type: 'carrier-pigeon',
      url: 'ftp://example.test/',
      events: ['execution.exploded'],
      jobId: '00000000-0000-0000-0000-000000000000',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.map((d: Json) => d.path).sort()).toEqual(['events.0', 'type']);
    const noJob = await api('POST', '/notification-channels', {
      name: 'No job',
      type: 'webhook',
      url: `${receiver.url}/nojob`,
      events: ['execution.failed'],
      jobId: '00000000-0000-0000-0000-000000000000',
    });
    expect(noJob.body.error.details).toEqual([{ path: 'jobId', message: 'is not the id of a sync job' }]);
    expect((await api('GET', '/notification-channels')).body.items).toHaveLength(before);
  });

  it('Send test: delivers a signed test alert now and records it; the secret is shown on creation only', async () => {
    const channel = await createChannel({
      name: 'Ops webhook',
      type: 'webhook',
      url: `${receiver.url}/test?token=abc`,
      events: ['execution.failed', 'job.recovered'],
    });
    expect(channel.signingSecret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(channel).toMatchObject({ type: 'webhook', jobId: null, enabled: true, lastDelivery: null });
    expect(channel.url).toBe(`${receiver.url}/test?token=…`);
    const got = await api('GET', `/notification-channels/${channel.id}`);
    expect(got.body.signingSecret).toBeUndefined();
    expect(JSON.stringify((await api('GET', '/notification-channels')).body)).not.toContain(channel.signingSecret);

    const test = await api('POST', `/notification-channels/${channel.id}/test`);
    expect(test.status).toBe(200);
    expect(test.body).toMatchObject({ event: 'test', attempt: 1, outcome: 'delivered', statusCode: 200, error: null });
    const [request] = receiver.at('/test?token=abc');
    expect(request).toBeDefined();
    expect(validSignature(request!, channel.signingSecret)).toBe(true);
    expect(validSignature(request!, 'whsec_wrong')).toBe(false);
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.body).toMatchObject({ id: test.body.eventId, type: 'test', job: null, url: `${PUBLIC_URL}/` });
    expect(await deliveries(channel.id)).toEqual([test.body]);
    expect((await api('GET', `/notification-channels/${channel.id}`)).body.lastDelivery).toMatchObject({
      outcome: 'delivered',
      statusCode: 200,
    });

    // A new secret, shown once; the next test is signed with it.
    const rotated = await api('PATCH', `/notification-channels/${channel.id}`, { rotateSecret: true });
    expect(rotated.body.signingSecret).toMatch(/^whsec_/);
    expect(rotated.body.signingSecret).not.toBe(channel.signingSecret);
    await api('POST', `/notification-channels/${channel.id}/test`);
    const second = receiver.at('/test?token=abc')[1]!;
    expect(validSignature(second, rotated.body.signingSecret)).toBe(true);
    expect(validSignature(second, channel.signingSecret)).toBe(false);
    expect((await api('DELETE', `/notification-channels/${channel.id}`)).status).toBe(204);
    expect((await api('GET', `/notification-channels/${channel.id}`)).status).toBe(404);

    // A receiver that does not answer: the test says so (200, with the outcome), and it is logged.
    const closed = createServer();
    await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((done) => closed.close(() => done()));
    const down = await createChannel({
      name: 'Down',
      type: 'webhook',
      url: `http://127.0.0.1:${port}/`,
      events: ['execution.failed'],
    });
    const failed = await api('POST', `/notification-channels/${down.id}/test`);
    expect(failed.status).toBe(200);
    expect(failed.body).toMatchObject({
      outcome: 'failed',
      statusCode: null,
      error: expect.stringMatching(/ECONNREFUSED/),
    });
    expect(await deliveries(down.id)).toEqual([failed.body]);
    await api('DELETE', `/notification-channels/${down.id}`);
  });

  it('a failure is alerted once (signed, retried after a 500), a second failure is not; the recovery carries the digest', async () => {
    const job = await createJob('Alerted customers');
    const secretPath = '/hook';
    const channel = await createChannel({
      name: 'Job hook',
      type: 'webhook',
      url: `${receiver.url}${secretPath}`,
      events: ['execution.failed', 'job.recovered'],
      jobId: job.id,
    });
    receiver.answer(secretPath, 500);

    memory.faults.authError = true;
    const first = await run(job.id);
    expect(first.status).toBe('failed');
    // The receiver answers 500, then 200: two attempts in the log, newest first.
    const log = await waitDeliveries(channel.id, 2, 'the retried delivery');
    expect(log.map((d: Json) => [d.attempt, d.outcome, d.statusCode])).toEqual([
      [2, 'delivered', 200],
      [1, 'retrying', 500],
    ]);
    expect(log[1].responseExcerpt).toMatch(/^receiver says 500 x+…$/);
    expect(log[1].responseExcerpt.length).toBeLessThanOrEqual(200);
    expect(new Set(log.map((d: Json) => d.eventId)).size).toBe(1);
    expect(log[0]).toMatchObject({ event: 'execution.failed', jobId: job.id, executionId: first.id });
    const requests = receiver.at(secretPath);
    expect(requests).toHaveLength(2);
    for (const r of requests) expect(validSignature(r, channel.signingSecret)).toBe(true);
    expect(requests[1]!.raw).toBe(requests[0]!.raw);
    expect(requests[0]!.body).toMatchObject({
      id: log[0].eventId,
      type: 'execution.failed',
      job: { id: job.id, name: 'Alerted customers' },
      execution: { id: first.id, status: 'failed', haltReason: first.haltReason, processed: 0, failed: 0 },
      url: `${PUBLIC_URL}/jobs/${job.id}/executions/${first.id}`,
      digest: null,
    });
    expect(requests[0]!.body.summary).toContain('Sync job "Alerted customers" failed');

    // Failing again is no new alert: the job's alert state counts it (written in the transaction that would
    // have queued the alert), and no delivery is queued or made for it.
    const second = await run(job.id);
    expect(second.status).toBe('failed');
    await waitFor(
      async () =>
        (
          await query<{ repeats: number }>(
            'SELECT repeats FROM alert_states WHERE job_id = $1 AND last_execution_id = $2',
            [job.id, second.id],
          )
        )[0]?.repeats === 1,
      'the second failure to be counted',
    );

    memory.faults.authError = false;
    memory.put('customer', { name: 'Ada', email: 'ada@example.test' }, cid(1));
    const third = await run(job.id);
    expect(third.status).toBe('completed');
    const after = await waitDeliveries(channel.id, 3, 'the recovery');
    expect(after).toHaveLength(3);
    expect(after.map((d: Json) => d.event)).toEqual(['job.recovered', 'execution.failed', 'execution.failed']);
    expect(after.some((d: Json) => d.executionId === second.id)).toBe(false);
    const recovery = receiver.at(secretPath)[2]!;
    expect(validSignature(recovery, channel.signingSecret)).toBe(true);
    expect(recovery.body).toMatchObject({
      type: 'job.recovered',
      execution: { id: third.id, status: 'completed' },
      digest: {
        state: 'failed',
        repeats: 1,
        lastExecutionId: second.id,
        lastHaltReason: second.haltReason,
        since: first.completedAt,
      },
    });
    expect(recovery.body.summary).toContain('recovered: it failed 2 runs in a row');
    expect(receiver.at(secretPath)).toHaveLength(3);
  });

  it('completed with errors is alerted once; dead letters are announced once per execution, with their count', async () => {
    // Failed records join the retry set (and, after 3 executions, the dead letter queue) under "retry on failure".
    const job = await createJob('Partly bad customers', { retryOnFailure: true });
    const channel = await createChannel({
      name: 'Errors hook',
      type: 'webhook',
      url: `${receiver.url}/errors`,
      events: ['execution.completed_with_errors', 'dead_letter.added'],
      jobId: job.id,
    });
    // A customer without an email: the local NOT NULL refuses it on every run; after 3 it is a dead letter.
    memory.put('customer', { name: 'Good', email: 'good@example.test' }, cid(10));
    memory.put('customer', { name: 'Bad', email: null }, cid(11));
    const runs: Json[] = [];
    for (let i = 0; i < 3; i++) runs.push(await run(job.id));
    expect(runs.map((r) => r.status)).toEqual([
      'completed_with_errors',
      'completed_with_errors',
      'completed_with_errors',
    ]);
    // Run 1 is alerted; runs 2 and 3 are the same state again (counted, not alerted); run 3 parked the bad
    // record: one dead_letter.added with its count.
    const log = await waitDeliveries(channel.id, 2, 'the alerts');
    await waitFor(
      async () =>
        (
          await query<{ repeats: number }>('SELECT repeats FROM alert_states WHERE last_execution_id = $1', [
            runs[2].id,
          ])
        )[0]?.repeats === 2,
      'the last run to be judged',
    );
    expect(log.map((d: Json) => [d.event, d.executionId])).toEqual([
      ['dead_letter.added', runs[2].id],
      ['execution.completed_with_errors', runs[0].id],
    ]);
    const added = receiver.at('/errors').find((r) => r.body.type === 'dead_letter.added')!;
    expect(added.body.deadLetters).toEqual({ added: 1 });
    expect(added.body.summary).toBe('Sync job "Partly bad customers": 1 record entered the dead letter queue');
  });

  it('Slack channels get a readable message with a link to the execution, unsigned', async () => {
    const job = await createJob('Slack customers');
    const channel = await createChannel({
      name: 'Slack #ops',
      type: 'slack',
      url: `${receiver.url}/services/T000/B000/XXXXSECRET`,
      events: ['execution.failed'],
      jobId: job.id,
    });
    expect(channel.signingSecret).toBeNull();
    expect(channel.url).toBe(`${receiver.url}/services/…`);
    memory.faults.authError = true;
    try {
      const failed = await run(job.id);
      const [delivery] = await waitDeliveries(channel.id, 1, 'the Slack message');
      expect(delivery).toMatchObject({ event: 'execution.failed', outcome: 'delivered', statusCode: 200 });
      const [message] = receiver.at('/services/T000/B000/XXXXSECRET');
      expect(message!.headers['otesse-signature']).toBeUndefined();
      const link = `${PUBLIC_URL}/jobs/${job.id}/executions/${failed.id}`;
      expect(message!.body.text).toBe(
        `:red_circle: Sync job "Slack customers" failed: ${failed.haltReason} <${link}|View execution>`,
      );
      expect(message!.body.blocks[0]).toEqual({
        type: 'section',
        text: { type: 'mrkdwn', text: `:red_circle: Sync job "Slack customers" failed: ${failed.haltReason}` },
      });
      expect(message!.body.blocks.at(-1)).toEqual({
        type: 'actions',
        elements: [{ type: 'button', text: { type: 'plain_text', text: 'View execution' }, url: link }],
      });
    } finally {
      memory.faults.authError = false;
    }
  });
});

describe('channel URLs follow the server’s outbound policy', () => {
  const TOKEN = randomBytes(24).toString('hex');
  const servers: RunningServer[] = [];
  afterAll(async () => {
    for (const s of servers) await s.close();
  });
  const start = async (allowedHosts: string) => {
    const server = await serve({
      database: 'memory://',
      host: '0.0.0.0',
      port: 0,
      token: TOKEN,
      allowedHosts,
      logger: pino({ enabled: false }),
      encryptionKeys: [randomBytes(32).toString('hex')],
    });
    servers.push(server);
    return async (body: unknown) => {
      const res = await fetch(`${server.url.replace('0.0.0.0', '127.0.0.1')}/api/v1/notification-channels`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Json };
    };
  };
  const channel = { name: 'Internal', type: 'webhook', url: 'http://127.0.0.1:9/hook', events: ['job.recovered'] };

  it('with an API token on a non-loopback address, private targets are refused unless allow-listed', async () => {
    const strict = await start('');
    const refused = await strict(channel);
    expect(refused.status).toBe(400);
    expect(refused.body.error.details).toEqual([
      {
        path: 'url',
        message:
          'is refused by the outbound request policy: outbound request to 127.0.0.1 refused: 127.0.0.1 is a ' +
          'loopback address (allow it with OTESSE_SYNC_ALLOWED_HOSTS)',
      },
    ]);
    const allowing = await start('127.0.0.1');
    expect((await allowing(channel)).status).toBe(201);
  });
});

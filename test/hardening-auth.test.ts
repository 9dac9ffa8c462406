import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, serve } from '../src/api/serve.ts';
import { buildServer } from '../src/api/server.ts';
import { createSyncEngine } from '../src/sync-engine.ts';

/**
 * Hardening of the API's auth and readiness: the Bearer scheme is case-insensitive, a short token is refused
 * at start, `?access_token=` works on the progress stream's route only, and /readyz keeps the database error
 * in the log.
 */

describe('API token', () => {
  const token = randomBytes(24).toString('base64url'); // 32 characters
  let server: RunningServer;
  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${server.url}${path}`, { headers });

  beforeAll(async () => {
    server = await serve({
      database: 'memory://',
      host: '127.0.0.1',
      port: 0,
      token,
      logger: pino({ enabled: false }),
    });
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  it('accepts the Bearer scheme in any case', async () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      const res = await get('/api/v1/connections', { authorization: `${scheme} ${token}` });
      expect(res.status, scheme).toBe(200);
    }
    expect((await get('/api/v1/connections', { authorization: `Basic ${token}` })).status).toBe(401);
    expect((await get('/api/v1/connections', { authorization: `Bearer ${token}x` })).status).toBe(401);
  });

  it('takes ?access_token= on the progress stream route only', async () => {
    // On the stream's route the token gets through auth (404: no such execution).
    const stream = await get(`/api/v1/executions/${randomUUID()}/events?access_token=${token}`);
    expect(stream.status).toBe(404);
    for (const path of [
      `/api/v1/connections?access_token=${token}`,
      `/api/v1/connections?x=/events&access_token=${token}`,
      `/api/v1/sync-jobs?connectionId=/events&access_token=${token}`,
      `/api/v1/executions/${randomUUID()}?access_token=${token}&/events`,
      `/api/v1/executions/${randomUUID()}/failures?access_token=${token}&next=/events`,
    ]) {
      expect((await get(path)).status, path).toBe(401);
    }
  });

  it('refuses a token shorter than 32 characters at start', async () => {
    await expect(
      serve({
        database: 'memory://',
        host: '127.0.0.1',
        port: 0,
        token: 'short-token',
        logger: pino({ enabled: false }),
      }),
    ).rejects.toThrow(/OTESSE_SYNC_API_TOKEN.*32 characters/);
    const engine = await createSyncEngine({ database: 'memory://' });
    try {
      await expect(buildServer({ engine, token: 'x'.repeat(31) })).rejects.toThrow(/32 characters/);
    } finally {
      await engine.close();
    }
  });
});

describe('/readyz', () => {
  it('answers 503 with a short reason; the database error goes to the log only', async () => {
    let logged = '';
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk, _enc, cb) {
          logged += chunk;
          cb();
        },
      }),
    );
    const engine = await createSyncEngine({ database: 'memory://' });
    const app = await buildServer({ engine, logger });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      await engine.database.pglite!.close(); // the database goes away
      const res = await fetch(`${url}/readyz`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as Record<string, unknown>;
      expect(body).toEqual({
        status: 'not_ready',
        reason: 'database unreachable',
        database: false,
        pendingMigrations: [],
        changedMigrations: [],
      });
      expect(logged).toContain('PGlite is closed');
    } finally {
      await app.close();
      await engine.close().catch(() => {});
    }
  });
});

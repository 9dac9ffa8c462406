import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small JSON REST API of "people" for the generic REST connector's contract runs: bearer auth, cursor
 * pagination (`after`, `limit`, `next`), an `updated_since` filter, get by id, POST with an `Idempotency-Key`
 * (the first answer per key is saved and replayed, like Stripe), PATCH, DELETE (204, then 404: the record is
 * gone), an `external_id` field that creates may set and the listing filters on (`?external_id=`), and faults
 * (429 with Retry-After, 5xx, a lost write response, per-record create faults, malformed records, records
 * listed without an id, purged records answering 410). In process, over real HTTP.
 */
export interface Person {
  id: string;
  name: string | null;
  email: string | number | null;
  /** Set by creates that send it (the REST connector's lookup-before-create); `?external_id=` filters on it. */
  external_id?: string;
  updated_at: string;
}

/** A fault on the creates (POST) of one record, matched by the email in the request body. */
export interface CreateFault {
  email: string;
  /** How many of the matching creates fail (the count goes down by one each time). */
  nextN: number;
  /** The status they answer. Default: 503. */
  status?: number;
  /** The record is created first and only its answer is lost (503); otherwise nothing is created. */
  afterWrite?: boolean;
}

export interface RestFaults {
  /** 429 with `Retry-After: <retryAfterSeconds>` for the next N requests. */
  rateLimit?: { nextN: number; retryAfterSeconds?: number };
  /** 503 for the next N requests (before anything happens), or after a POST was applied (`afterWrite`). */
  serverErrors?: { nextN: number; afterWrite?: boolean };
  /** Served with `email: 12345`. */
  malformed?: string[];
  /** Listed without their `id` field (a record no client can name). */
  withoutId?: string[];
  /** Purged: GET, PATCH and DELETE of these ids answer 410 Gone. */
  gone?: string[];
  /** Per-record create faults: "the create of this record answers 503 the next N times". */
  creates?: CreateFault[];
}

export interface RestPeopleServer {
  url: string;
  token: string;
  people: Map<string, Person>;
  faults: RestFaults;
  /**
   * byRoute: `GET /people` (full listing), `GET /people?updated_since`, `GET /people?external_id` (a lookup),
   * `GET /people/:id`, `POST /people`, …; `created`: the records POSTs created, in order (replays not counted).
   */
  requests: {
    total: number;
    byStatus: Record<number, number>;
    byRoute: Record<string, number>;
    created: Person[];
  };
  put(person: Omit<Person, 'updated_at' | 'id'> & { id?: string }, updatedAt?: string): Person;
  update(id: string, patch: Partial<Person>): Person;
  close(): Promise<void>;
}

export async function startRestPeopleServer(options: { records?: number; token?: string } = {}) {
  const token = options.token ?? 'rest-token-not-real';
  const people = new Map<string, Person>();
  const saved = new Map<string, { status: number; body: string }>();
  const requests = {
    total: 0,
    byStatus: {} as Record<number, number>,
    byRoute: {} as Record<string, number>,
    created: [] as Person[],
  };
  const faults: RestFaults = {};
  let seq = 0;
  // Strictly increasing modification times, so that a change is always after the previous run's start.
  let lastTime = 0;
  const stamp = () => {
    lastTime = Math.max(Date.now(), lastTime + 1);
    return new Date(lastTime).toISOString();
  };
  const put = (p: Omit<Person, 'updated_at' | 'id'> & { id?: string }, at = stamp()): Person => {
    const id = p.id ?? `p${String(++seq).padStart(6, '0')}`;
    const person: Person = {
      id,
      name: p.name,
      email: p.email,
      ...(p.external_id !== undefined ? { external_id: p.external_id } : {}),
      updated_at: at,
    };
    people.set(id, person);
    return person;
  };
  // Seeded records were last changed in the past, one a minute.
  const epoch = Date.UTC(2025, 0, 1);
  for (let i = 1; i <= (options.records ?? 0); i++) {
    put({ name: `Person ${i}`, email: `person${i}@example.com` }, new Date(epoch + i * 60_000).toISOString());
  }

  const handle = (req: IncomingMessage, res: ServerResponse, raw: string) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const method = req.method ?? 'GET';
    const m = /^\/people(?:\/([^/]+))?$/.exec(url.pathname);
    const filter = url.searchParams.has('external_id')
      ? '?external_id'
      : url.searchParams.has('updated_since')
        ? '?updated_since'
        : '';
    const route = `${method} ${m ? (m[1] ? '/people/:id' : `/people${filter}`) : 'other'}`;
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      requests.total++;
      requests.byStatus[status] = (requests.byStatus[status] ?? 0) + 1;
      requests.byRoute[route] = (requests.byRoute[route] ?? 0) + 1;
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      res.writeHead(status, status === 204 ? headers : { 'content-type': 'application/json', ...headers });
      res.end(status === 204 ? undefined : text);
      return text;
    };
    if (req.headers.authorization !== `Bearer ${token}`) return send(401, { message: 'invalid token' });
    if (faults.rateLimit && faults.rateLimit.nextN > 0) {
      faults.rateLimit.nextN--;
      return send(429, { message: 'slow down' }, { 'retry-after': String(faults.rateLimit.retryAfterSeconds ?? 0) });
    }
    if (faults.serverErrors && !faults.serverErrors.afterWrite && faults.serverErrors.nextN > 0) {
      faults.serverErrors.nextN--;
      return send(503, { message: 'temporarily unavailable' });
    }
    if (!m) return send(404, { message: 'no route' });
    const render = (p: Person) => (faults.malformed?.includes(p.id) ? { ...p, email: 12345 } : p);
    const id = m[1] ? decodeURIComponent(m[1]) : undefined;
    if (id !== undefined && faults.gone?.includes(id)) return send(410, { message: 'gone' });
    if (id !== undefined && method === 'DELETE') {
      if (!people.delete(id)) return send(404, { message: 'not found' });
      return send(204, '');
    }
    if (id !== undefined && method === 'GET') {
      const p = people.get(id);
      return p ? send(200, render(p)) : send(404, { message: 'not found' });
    }
    if (id !== undefined && method === 'PATCH') {
      const p = people.get(id);
      if (!p) return send(404, { message: 'not found' });
      const patch = JSON.parse(raw || '{}') as Partial<Person>;
      if (patch.email !== undefined && (typeof patch.email !== 'string' || !patch.email.includes('@'))) {
        return send(422, { message: 'email is invalid' });
      }
      Object.assign(p, { name: patch.name ?? p.name, email: patch.email ?? p.email, updated_at: stamp() });
      return send(200, render(p));
    }
    if (id === undefined && method === 'POST') {
      const key = req.headers['idempotency-key'];
      const replay = typeof key === 'string' ? saved.get(key) : undefined;
      if (replay) return send(replay.status, replay.body);
      const body = JSON.parse(raw || '{}') as Partial<Person>;
      const fault = faults.creates?.find((f) => f.email === body.email && f.nextN > 0);
      if (fault && !fault.afterWrite) {
        fault.nextN--;
        return send(fault.status ?? 503, {
          message: fault.status === 401 ? 'invalid token' : 'temporarily unavailable',
        });
      }
      let status = 201;
      let answer: unknown;
      if (typeof body.email !== 'string' || !body.email.includes('@')) {
        status = 422;
        answer = { message: 'email is invalid' };
      } else {
        const created = put({
          name: body.name ?? null,
          email: body.email,
          ...(typeof body.external_id === 'string' ? { external_id: body.external_id } : {}),
        });
        requests.created.push(created);
        answer = created;
      }
      if (fault?.afterWrite) {
        // Created; the answer is lost. No saved answer either: only a lookup finds the record.
        fault.nextN--;
        return send(fault.status ?? 503, { message: 'temporarily unavailable' });
      }
      if (faults.serverErrors?.afterWrite && faults.serverErrors.nextN > 0) {
        // The write happened; its answer is lost. The saved answer is the real one (unlike Stripe, which
        // saves the 500): a retry with the same key gets the created record.
        faults.serverErrors.nextN--;
        if (typeof key === 'string') saved.set(key, { status, body: JSON.stringify(answer) });
        return send(503, { message: 'temporarily unavailable' });
      }
      const text = send(status, answer);
      if (typeof key === 'string') saved.set(key, { status, body: text });
      return;
    }
    if (id === undefined && method === 'GET') {
      const since = url.searchParams.get('updated_since');
      const externalId = url.searchParams.get('external_id');
      const all = [...people.values()].filter(
        (p) => (!since || p.updated_at >= since) && (externalId === null || p.external_id === externalId),
      );
      const limit = Math.min(100, Number(url.searchParams.get('limit') ?? 10));
      const after = url.searchParams.get('after');
      const start = after ? all.findIndex((p) => p.id === after) + 1 : 0;
      const page = all.slice(start, start + limit);
      const listed = (p: Person) => {
        const r: Record<string, unknown> = { ...render(p) };
        if (faults.withoutId?.includes(p.id)) delete r.id;
        return r;
      };
      return send(200, {
        data: page.map(listed),
        next: start + limit < all.length ? page.at(-1)!.id : null,
      });
    }
    return send(405, { message: `${method} not allowed` });
  };

  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => {
      raw += d;
    });
    req.on('end', () => handle(req, res, raw));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const api: RestPeopleServer = {
    url,
    token,
    people,
    faults,
    requests,
    put,
    update(id, patch) {
      const p = people.get(id);
      if (!p) throw new Error(`no person ${id}`);
      Object.assign(p, patch, { updated_at: stamp() });
      return p;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  return api;
}

/**
 * The REST connector's config for this server, described as data. `idempotencyHeader: false` leaves the
 * Idempotency-Key header out (a provider that cannot dedupe); `lookup` adds lookup-before-create on `external_id`;
 * `delete: false` leaves the delete request out (outbound deletes are then refused).
 */
export function restPeopleConfig(
  url: string,
  options: { idempotencyHeader?: boolean; lookup?: boolean; delete?: boolean } = {},
) {
  return {
    baseUrl: url,
    auth: { type: 'bearer' },
    entities: {
      person: {
        listPath: '/people',
        recordsPath: 'data',
        idField: 'id',
        updatedAtField: 'updated_at',
        pagination: { style: 'cursor', cursorParam: 'after', cursorPath: 'next', limitParam: 'limit' },
        incremental: { param: 'updated_since' },
        getPath: '/people/{id}',
        create: {
          path: '/people',
          ...(options.idempotencyHeader === false ? {} : { idempotencyHeader: 'Idempotency-Key' }),
        },
        update: { path: '/people/{id}' },
        ...(options.delete === false ? {} : { delete: { path: '/people/{id}' } }),
        ...(options.lookup ? { lookup: { field: 'external_id', param: 'external_id' } } : {}),
        fields: [
          { name: 'id', type: 'string', required: true },
          { name: 'name', type: 'string' },
          { name: 'email', type: 'string' },
          { name: 'updated_at', type: 'datetime', required: true },
        ],
      },
    },
  };
}

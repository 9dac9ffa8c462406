import { createHubSpotProvider } from '../src/connectors/hubspot/index.ts';
import { createRestProvider } from '../src/connectors/rest/index.ts';
import { createStripeProvider } from '../src/connectors/stripe/index.ts';
import { startHubSpotSandbox } from '../src/sandbox/hubspot/server.ts';
import { startStripeSandbox } from '../src/sandbox/stripe/server.ts';
import { type ConnectorAdapter, connectorContract } from './contract/connector-contract.ts';
import { restPeopleConfig, startRestPeopleServer } from './contract/rest-server.ts';
import { TEST_DATABASES } from './helpers/db.ts';

/** Short waits: the contract checks behaviour, not patience. Retry-After is honoured up to maxDelayMs. */
const RETRY = { attempts: 4, baseDelayMs: 5, maxDelayMs: 200 };

const stripe: ConnectorAdapter = {
  name: 'stripe',
  provider: () => createStripeProvider({ retry: RETRY }),
  entityType: 'customer',
  nameField: 'name',
  emailField: 'email',
  deletes: {
    tombstones: true,
    deletedState: 'gone',
    softOutbound: { refusal: /^stripe cannot keep a "customer" record marked deleted: choose hard_delete or ignore$/ },
    recreateKeepsId: false,
  },
  async start(records) {
    const apiKey = 'sk_test_contract_not_real';
    const sandbox = await startStripeSandbox({ apiKey, records: { customers: records } });
    return {
      config: { apiBase: sandbox.url, requestsPerSecond: 1000 },
      credentials: { apiKey },
      badCredentials: { apiKey: 'sk_test_wrong_key' },
      list: () =>
        sandbox.store.list('customer').map((c) => ({
          id: c.id,
          name: (c.name as string | null) ?? null,
          email: (c.email as string | null) ?? null,
        })),
      rename: (id, name) => void sandbox.store.update('customer', id, { name }),
      edit: (id, patch) => void sandbox.store.update('customer', id, patch),
      // A deletion emits `customer.deleted`, as DELETE /v1/customers/:id does.
      remove: (id) => {
        if (!sandbox.store.delete('customer', id)) throw new Error(`no customer ${id}`);
      },
      recreate: (r) => sandbox.store.put('customer', { name: r.name, email: r.email }).id,
      state: (id) => (sandbox.store.get('customer', id) ? 'live' : 'gone'),
      requests: () => ({
        total: sandbox.requests.total,
        listCalls: sandbox.requests.byRoute['GET /v1/customers'] ?? 0,
        byStatus: sandbox.requests.byStatus,
      }),
      faults: {
        rateLimit: (n) => {
          sandbox.faults.rateLimit = { nextN: n, retryAfterSeconds: 1 };
        },
        serverErrors: (n) => {
          sandbox.faults.serverErrors = { nextN: n };
        },
        loseNextWriteResponse: () => {
          sandbox.faults.serverErrors = { nextN: 1, afterWrite: true };
        },
        malformed: (id) => {
          sandbox.faults.malformed = { ids: [id] };
        },
        clear: () => {
          for (const k of Object.keys(sandbox.faults)) delete (sandbox.faults as Record<string, unknown>)[k];
        },
      },
      close: () => sandbox.close(),
    };
  },
};

const hubspot: ConnectorAdapter = {
  name: 'hubspot',
  provider: () => createHubSpotProvider({ retry: RETRY }),
  entityType: 'contact',
  nameField: 'firstname',
  emailField: 'email',
  deletes: { tombstones: true, deletedState: 'archived', softOutbound: { state: 'archived' }, recreateKeepsId: true },
  async start(records) {
    const accessToken = 'pat-contract-not-real';
    const sandbox = await startHubSpotSandbox({
      accessToken,
      records: { contacts: records },
      rateLimit: { max: 100_000, searchPerSecond: 1000, retryAfter: true },
    });
    return {
      config: { apiBase: sandbox.url, requestsPer10Seconds: 10_000, searchRequestsPerSecond: 1000 },
      credentials: { accessToken },
      badCredentials: { accessToken: 'pat-wrong' },
      list: () =>
        sandbox.store.list('contacts').map((c) => ({
          id: c.id,
          name: c.properties.firstname ?? null,
          email: c.properties.email ?? null,
        })),
      rename: (id, name) => void sandbox.store.update('contacts', id, { firstname: name }),
      edit: (id, patch) =>
        void sandbox.store.update('contacts', id, {
          ...(patch.name !== undefined ? { firstname: patch.name } : {}),
          ...(patch.email !== undefined ? { email: patch.email } : {}),
        }),
      remove: (id) => {
        if (sandbox.store.get('contacts', id)?.archived !== false) throw new Error(`no live contact ${id}`);
        sandbox.store.archive('contacts', id);
      },
      recreate: (r) => sandbox.store.restore('contacts', r.id).id,
      state: (id) => {
        const o = sandbox.store.get('contacts', id);
        return o === undefined ? 'gone' : o.archived ? 'archived' : 'live';
      },
      requests: () => ({
        total: sandbox.requests.total,
        listCalls: sandbox.requests.byOperation.list ?? 0,
        byStatus: sandbox.requests.byStatus,
      }),
      faults: {
        rateLimit: (n) => {
          sandbox.faults.rateLimit = { nextN: n };
        },
        serverErrors: (n) => {
          sandbox.faults.serverErrors = { nextN: n };
        },
        loseNextWriteResponse: () => {
          sandbox.faults.serverErrors = { nextN: 1, afterWrite: true };
        },
        malformed: (id) => {
          sandbox.faults.malformed = { ids: [id] };
        },
        clear: () => {
          for (const k of Object.keys(sandbox.faults)) delete (sandbox.faults as Record<string, unknown>)[k];
        },
      },
      close: () => sandbox.close(),
    };
  },
};

const rest: ConnectorAdapter = {
  name: 'rest',
  provider: () => createRestProvider({ retry: RETRY }),
  entityType: 'person',
  nameField: 'name',
  emailField: 'email',
  deletes: { tombstones: false, deletedState: 'gone', softOutbound: { state: 'gone' }, recreateKeepsId: true },
  async start(records) {
    const server = await startRestPeopleServer({ records });
    return {
      config: restPeopleConfig(server.url),
      credentials: { token: server.token },
      badCredentials: { token: 'wrong-token' },
      list: () =>
        [...server.people.values()].map((p) => ({
          id: p.id,
          name: p.name,
          email: typeof p.email === 'string' ? p.email : null,
        })),
      rename: (id, name) => void server.update(id, { name }),
      edit: (id, patch) => void server.update(id, patch),
      remove: (id) => {
        if (!server.people.delete(id)) throw new Error(`no person ${id}`);
      },
      recreate: (r) => server.put({ id: r.id, name: r.name, email: r.email }).id,
      state: (id) => (server.people.has(id) ? 'live' : 'gone'),
      requests: () => ({
        total: server.requests.total,
        listCalls: server.requests.byRoute['GET /people'] ?? 0,
        byStatus: server.requests.byStatus,
      }),
      faults: {
        rateLimit: (n) => {
          server.faults.rateLimit = { nextN: n, retryAfterSeconds: 1 };
        },
        serverErrors: (n) => {
          server.faults.serverErrors = { nextN: n };
        },
        loseNextWriteResponse: () => {
          server.faults.serverErrors = { nextN: 1, afterWrite: true };
        },
        malformed: (id) => {
          server.faults.malformed = [id];
        },
        clear: () => {
          for (const k of Object.keys(server.faults)) delete (server.faults as Record<string, unknown>)[k];
        },
      },
      close: () => server.close(),
    };
  },
};

for (const adapter of [stripe, hubspot, rest]) connectorContract(adapter, TEST_DATABASES);

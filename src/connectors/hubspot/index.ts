import { z } from 'zod';
import { ProviderError } from '../../domain/errors.ts';
import type {
  ConnectionContext,
  Endpoint,
  EntityTypeInfo,
  FieldInfo,
  ProviderDefinition,
  ProviderInfo,
  WebhookDelivery,
  WebhookEvent,
} from '../../engine/endpoint.ts';
import { DEFAULT_TRANSIENT_RETRY, type TransientRetryPolicy } from '../../engine/retry.ts';
import { verifyHubSpotSignatureV3 } from '../../security/webhooks.ts';
import { guardedFetch, type OutboundPolicy } from '../http/guard.ts';
import { SlidingWindowLimiter } from '../http/rate-limiter.ts';
import { parseWebhookJson, TIMEOUT_SETTING } from '../shared.ts';
import { HUBSPOT_ENTITY_TYPES, HubSpotEndpoint, type HubSpotEntity, SEARCH_RESULT_CAP } from './endpoint.ts';
import { loadHubSpotSdk } from './sdk.ts';

export { HUBSPOT_ENTITY_TYPES, SEARCH_RESULT_CAP } from './endpoint.ts';

const propertyName = z.string().regex(/^[a-z][a-z0-9_]*$/, { error: 'HubSpot property names are lowercase' });

export const hubspotConfigSchema = z.strictObject({
  /** Where the API is; default HubSpot's own. A sandbox: `http://127.0.0.1:<port>`. */
  apiBase: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).default('https://api.hubapi.com'),
  /**
   * Requests per rolling 10 seconds for this connection: 100 for Free/Starter private apps (default), 190 for
   * Professional/Enterprise, 110 for public apps.
   */
  requestsPer10Seconds: z.int().min(1).max(10_000).default(100),
  /** CRM search requests per second (HubSpot allows 5 per account). */
  searchRequestsPerSecond: z.int().min(1).max(1000).default(4),
  timeoutMs: z.int().min(100).max(120_000).default(30_000),
  /**
   * A property holding the Otesse id of records we create (a custom property, ideally with unique values):
   * creates look it up first, since HubSpot has no idempotency keys.
   */
  externalIdProperty: propertyName.default('otesse_id'),
  /** Properties read per entity type; default: the fields listed in the provider info. */
  properties: z
    .strictObject({
      contact: z.array(propertyName).optional(),
      company: z.array(propertyName).optional(),
      deal: z.array(propertyName).optional(),
    })
    .optional(),
});
export type HubSpotConfig = z.output<typeof hubspotConfigSchema>;

const s = (name: string, label: string): FieldInfo => ({ name, type: 'string', label });
const n = (name: string, label: string): FieldInfo => ({ name, type: 'number', label });
const d = (name: string, label: string): FieldInfo => ({ name, type: 'datetime', label });
const ENVELOPE_FIELDS: FieldInfo[] = [
  s('id', 'Record ID'),
  d('createdAt', 'Created at'),
  d('updatedAt', 'Updated at'),
  { name: 'archived', type: 'boolean', label: 'Archived' },
];

/** HubSpot properties per entity type (values travel as strings in the CRM API; the types are HubSpot's). */
export const HUBSPOT_FIELDS: Record<HubSpotEntity, FieldInfo[]> = {
  contact: [
    s('email', 'Email'),
    s('firstname', 'First name'),
    s('lastname', 'Last name'),
    s('phone', 'Phone number'),
    s('company', 'Company name'),
    s('jobtitle', 'Job title'),
    s('website', 'Website URL'),
    s('city', 'City'),
    s('country', 'Country/Region'),
    s('lifecyclestage', 'Lifecycle stage'),
    s('hs_object_id', 'Record ID (property)'),
    d('createdate', 'Create date'),
    d('lastmodifieddate', 'Last modified date'),
  ],
  company: [
    s('name', 'Company name'),
    s('domain', 'Company domain name'),
    s('industry', 'Industry'),
    s('phone', 'Phone number'),
    s('city', 'City'),
    s('country', 'Country/Region'),
    n('numberofemployees', 'Number of employees'),
    n('annualrevenue', 'Annual revenue'),
    s('lifecyclestage', 'Lifecycle stage'),
    s('hs_object_id', 'Record ID (property)'),
    d('createdate', 'Create date'),
    d('hs_lastmodifieddate', 'Last modified date'),
  ],
  deal: [
    s('dealname', 'Deal name'),
    n('amount', 'Amount'),
    s('dealstage', 'Deal stage'),
    s('pipeline', 'Pipeline'),
    d('closedate', 'Close date'),
    s('hubspot_owner_id', 'Deal owner'),
    s('deal_currency_code', 'Currency'),
    s('hs_object_id', 'Record ID (property)'),
    d('createdate', 'Create date'),
    d('hs_lastmodifieddate', 'Last modified date'),
  ],
};

const LABELS: Record<HubSpotEntity, string> = { contact: 'Contacts', company: 'Companies', deal: 'Deals' };

export const HUBSPOT_INFO: ProviderInfo = {
  displayName: 'HubSpot',
  description:
    'HubSpot CRM v3 (contacts, companies, deals) through a private app access token: full and incremental reads, batch creates and updates, deletes as archives (HubSpot restores an archived record for 90 days), webhooks (signature v3).',
  config: [
    {
      name: 'apiBase',
      label: 'API base URL',
      type: 'url',
      required: false,
      secret: false,
      credentialTarget: true,
      placeholder: 'https://api.hubapi.com',
      help: 'Leave empty for HubSpot; a sandbox URL for tests.',
    },
    {
      name: 'requestsPer10Seconds',
      label: 'Requests per 10 seconds',
      type: 'number',
      required: false,
      secret: false,
      placeholder: '100',
      help: 'Your HubSpot tier’s limit: 100 (Free, Starter), 190 (Professional, Enterprise), 110 (public apps).',
    },
    {
      name: 'searchRequestsPerSecond',
      label: 'Search requests per second',
      type: 'number',
      required: false,
      secret: false,
      placeholder: '4',
      help: 'HubSpot allows 5 search requests per second per account.',
    },
    TIMEOUT_SETTING,
    {
      name: 'externalIdProperty',
      label: 'External id property',
      type: 'string',
      required: false,
      secret: false,
      placeholder: 'otesse_id',
      help: 'A custom property (with unique values) that holds the Otesse id of records created by outbound syncs; creates look it up first so a retried create never duplicates.',
    },
    {
      name: 'properties',
      label: 'Properties to read',
      type: 'json',
      required: false,
      secret: false,
      placeholder: '{"contact": ["email", "firstname"]}',
      help: 'Per entity type; default: the listed fields.',
    },
  ],
  credentials: [
    {
      name: 'accessToken',
      label: 'Private app access token',
      type: 'string',
      required: true,
      secret: true,
      placeholder: 'pat-na1-…',
      help: 'Scopes: crm.objects.contacts/companies/deals read and write.',
    },
    {
      name: 'clientSecret',
      label: 'App client secret',
      type: 'string',
      required: false,
      secret: true,
      help: 'Verifies webhook signatures (v3); needed only for webhooks.',
    },
  ],
  entityTypes: HUBSPOT_ENTITY_TYPES.map(
    (name): EntityTypeInfo => ({
      name,
      label: LABELS[name],
      fields: [...ENVELOPE_FIELDS, ...HUBSPOT_FIELDS[name]],
      supports: { inbound: true, outbound: true, incremental: true, webhooks: true, deletes: true },
    }),
  ),
};

/** Rate limiters per connection id: HubSpot counts per account, so every run of a connection shares them. */
interface Limits {
  key: string;
  limiter: SlidingWindowLimiter;
  searchLimiter: SlidingWindowLimiter;
}

/**
 * HubSpot CRM v3 over the official `@hubspot/api-client`: contacts, companies and deals, inbound (full with
 * the `after` cursor; incremental by search on the last-modified property in windows that step past the
 * 10,000-result cap; with deletions, then the archived list for tombstones) and outbound (batch create/update of
 * 100 with per-record results; creates look up the external-id property first; deletes are batch archives).
 * Credentials: `accessToken`; `clientSecret` for webhooks.
 */
export function createHubSpotProvider(
  options: {
    retry?: TransientRetryPolicy;
    name?: string;
    /** Results one search can page through before a new window starts. Default: HubSpot's 10,000 (tests lower it). */
    searchResultCap?: number;
    /** Where requests may go (SSRF guard); default DEFAULT_OUTBOUND_POLICY. */
    outbound?: OutboundPolicy;
  } = {},
): ProviderDefinition {
  // The SDK sends through this fetch: the guard checks the addresses it connects to, redirects and body size.
  const fetchFn = guardedFetch(options.outbound, 'hubspot');
  const limits = new Map<string, Limits>();
  const limitsFor = (connection: ConnectionContext, config: HubSpotConfig): Limits => {
    const key = `${config.requestsPer10Seconds}/${config.searchRequestsPerSecond}`;
    let l = limits.get(connection.id);
    if (!l || l.key !== key) {
      l = {
        key,
        // HubSpot counts in rolling windows: 10 s for all requests, 1 s for search.
        limiter: new SlidingWindowLimiter(config.requestsPer10Seconds, 10_000),
        searchLimiter: new SlidingWindowLimiter(config.searchRequestsPerSecond, 1000),
      };
      limits.set(connection.id, l);
    }
    return l;
  };
  return {
    name: options.name ?? 'hubspot',
    entityTypes: HUBSPOT_ENTITY_TYPES,
    configSchema: hubspotConfigSchema,
    info: HUBSPOT_INFO,
    webhook: { verify: verifyHubSpotWebhook },
    async createEndpoint(connection: ConnectionContext): Promise<Endpoint> {
      const parsed = hubspotConfigSchema.safeParse(connection.config);
      if (!parsed.success) {
        throw new ProviderError('config', `hubspot: invalid connection config: ${parsed.error.message}`);
      }
      const config = parsed.data;
      const accessToken = connection.credentials.accessToken;
      if (!accessToken) throw new ProviderError('config', 'hubspot: credentials.accessToken is required');
      const { limiter, searchLimiter } = limitsFor(connection, config);
      const properties = Object.fromEntries(
        HUBSPOT_ENTITY_TYPES.map((t) => [t, config.properties?.[t] ?? HUBSPOT_FIELDS[t].map((f) => f.name)]),
      ) as Record<HubSpotEntity, string[]>;
      return new HubSpotEndpoint(
        {
          accessToken,
          apiBase: config.apiBase,
          timeoutMs: config.timeoutMs,
          externalIdProperty: config.externalIdProperty,
          properties,
          limiter,
          searchLimiter,
          retry: options.retry ?? DEFAULT_TRANSIENT_RETRY,
          searchResultCap: options.searchResultCap ?? SEARCH_RESULT_CAP,
          fetch: fetchFn,
        },
        await loadHubSpotSdk(),
      );
    },
    async close() {
      limits.clear();
    },
  };
}

const OBJECT_OF_SUBSCRIPTION: Record<string, HubSpotEntity> = { contact: 'contact', company: 'company', deal: 'deal' };
/** Subscription events that say the record is gone: archived (restorable for 90 days) or deleted for privacy (GDPR). */
const DELETION_EVENTS = new Set(['deletion', 'privacyDeletion']);

/**
 * HubSpot webhooks: signature v3 (`X-HubSpot-Signature-v3` over method + URL + raw body + timestamp with the
 * app's client secret; `X-HubSpot-Request-Timestamp` within 5 minutes). The body is an array of events
 * (`contact.propertyChange`, `deal.creation`, …); `*.deletion` and `*.privacyDeletion` are marked `deleted`
 * (`*.restore` is a change: the record is back); events of other object types are ignored. HubSpot's
 * `eventId` alone is not unique, so the event id returned is `<portalId>:<subscriptionId>:<eventId>`, which
 * stays the same across HubSpot's redeliveries of one event.
 */
export function verifyHubSpotWebhook(delivery: WebhookDelivery, connection: ConnectionContext): WebhookEvent[] {
  const secret = connection.credentials.clientSecret;
  if (!secret) {
    throw new ProviderError('config', 'hubspot webhook: the connection has no credentials.clientSecret');
  }
  const check = verifyHubSpotSignatureV3(
    {
      method: delivery.method,
      uri: delivery.url,
      rawBody: delivery.rawBody,
      signature: delivery.headers['x-hubspot-signature-v3'] ?? null,
      timestamp: delivery.headers['x-hubspot-request-timestamp'] ?? null,
    },
    secret,
    delivery.now === undefined ? {} : { nowMs: delivery.now },
  );
  if (!check.ok) throw new ProviderError('auth', `hubspot webhook: ${check.reason}`);
  const body = parseWebhookJson('hubspot', delivery.rawBody);
  if (!Array.isArray(body)) throw new ProviderError('record', 'hubspot webhook: the body is not an array of events');
  const out: WebhookEvent[] = [];
  for (const e of body) {
    if (typeof e !== 'object' || e === null)
      throw new ProviderError('record', 'hubspot webhook: an event is not an object');
    const ev = e as Record<string, unknown>;
    const type = typeof ev.subscriptionType === 'string' ? ev.subscriptionType : '';
    const objectId = ev.objectId;
    if (
      ev.eventId === undefined ||
      ev.eventId === null ||
      (typeof objectId !== 'number' && typeof objectId !== 'string')
    ) {
      throw new ProviderError('record', 'hubspot webhook: an event has no eventId or objectId');
    }
    const [object, action] = type.split('.');
    const entityType = OBJECT_OF_SUBSCRIPTION[object!];
    if (!entityType) continue;
    const prefix = [ev.portalId, ev.subscriptionId].filter((x) => x !== undefined && x !== null).join(':');
    out.push({
      eventId: prefix ? `${prefix}:${String(ev.eventId)}` : String(ev.eventId),
      entityType,
      recordId: String(objectId),
      ...(action !== undefined && DELETION_EVENTS.has(action) ? { deleted: true } : {}),
    });
  }
  return out;
}

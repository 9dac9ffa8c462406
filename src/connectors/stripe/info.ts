import { ProviderError } from '../../domain/errors.ts';
import type {
  ConnectionContext,
  EntityTypeInfo,
  FieldInfo,
  ProviderInfo,
  WebhookDelivery,
  WebhookEvent,
} from '../../engine/endpoint.ts';
import { verifyStripeSignature } from '../../security/webhooks.ts';
import { parseWebhookJson, TIMEOUT_SETTING } from '../shared.ts';

type Kind = 'customer' | 'product' | 'price' | 'invoice';
const KINDS: readonly Kind[] = ['customer', 'product', 'price', 'invoice'];

const s = (name: string, label: string): FieldInfo => ({ name, type: 'string', label });
const n = (name: string, label: string): FieldInfo => ({ name, type: 'number', label });
const b = (name: string, label: string): FieldInfo => ({ name, type: 'boolean', label });
const o = (name: string, label: string): FieldInfo => ({ name, type: 'object', label });
const a = (name: string, label: string): FieldInfo => ({ name, type: 'array', label });

/** The fields of Stripe's objects (API version of the SDK); `created` and other times are Unix seconds. */
export const STRIPE_FIELDS: Record<Kind, FieldInfo[]> = {
  customer: [
    s('id', 'ID'),
    s('name', 'Name'),
    s('email', 'Email'),
    s('phone', 'Phone'),
    s('description', 'Description'),
    n('balance', 'Balance (minor units)'),
    s('currency', 'Currency'),
    b('delinquent', 'Delinquent'),
    o('metadata', 'Metadata'),
    n('created', 'Created (Unix seconds)'),
    s('address.line1', 'Address line 1'),
    s('address.line2', 'Address line 2'),
    s('address.city', 'City'),
    s('address.state', 'State'),
    s('address.postal_code', 'Postal code'),
    s('address.country', 'Country'),
    s('shipping.name', 'Shipping name'),
    s('invoice_prefix', 'Invoice prefix'),
    a('preferred_locales', 'Preferred locales'),
    s('tax_exempt', 'Tax exempt'),
    b('livemode', 'Live mode'),
  ],
  product: [
    s('id', 'ID'),
    s('name', 'Name'),
    s('description', 'Description'),
    b('active', 'Active'),
    s('type', 'Type'),
    s('default_price', 'Default price'),
    a('images', 'Images'),
    o('metadata', 'Metadata'),
    s('statement_descriptor', 'Statement descriptor'),
    s('tax_code', 'Tax code'),
    s('unit_label', 'Unit label'),
    s('url', 'URL'),
    n('created', 'Created (Unix seconds)'),
    n('updated', 'Updated (Unix seconds)'),
    b('livemode', 'Live mode'),
  ],
  price: [
    s('id', 'ID'),
    s('product', 'Product'),
    b('active', 'Active'),
    s('currency', 'Currency'),
    n('unit_amount', 'Unit amount (minor units)'),
    s('unit_amount_decimal', 'Unit amount (decimal)'),
    s('type', 'Type'),
    s('billing_scheme', 'Billing scheme'),
    s('recurring.interval', 'Billing interval'),
    n('recurring.interval_count', 'Interval count'),
    s('recurring.usage_type', 'Usage type'),
    s('lookup_key', 'Lookup key'),
    s('nickname', 'Nickname'),
    s('tax_behavior', 'Tax behavior'),
    o('metadata', 'Metadata'),
    n('created', 'Created (Unix seconds)'),
    b('livemode', 'Live mode'),
  ],
  invoice: [
    s('id', 'ID'),
    s('number', 'Number'),
    s('customer', 'Customer'),
    s('customer_email', 'Customer email'),
    s('customer_name', 'Customer name'),
    s('status', 'Status'),
    s('currency', 'Currency'),
    n('amount_due', 'Amount due (minor units)'),
    n('amount_paid', 'Amount paid (minor units)'),
    n('amount_remaining', 'Amount remaining (minor units)'),
    n('subtotal', 'Subtotal (minor units)'),
    n('total', 'Total (minor units)'),
    s('description', 'Description'),
    s('collection_method', 'Collection method'),
    s('billing_reason', 'Billing reason'),
    n('due_date', 'Due date (Unix seconds)'),
    n('period_start', 'Period start (Unix seconds)'),
    n('period_end', 'Period end (Unix seconds)'),
    s('hosted_invoice_url', 'Hosted invoice URL'),
    o('lines', 'Line items'),
    o('metadata', 'Metadata'),
    n('created', 'Created (Unix seconds)'),
    b('livemode', 'Live mode'),
  ],
};

const LABELS: Record<Kind, string> = {
  customer: 'Customers',
  product: 'Products',
  price: 'Prices',
  invoice: 'Invoices',
};
const WRITABLE = new Set<Kind>(['customer', 'product']);
/** Kinds the API can delete (DELETE /v1/customers/:id, /v1/products/:id); prices cannot be deleted. */
const DELETABLE = new Set<Kind>(['customer', 'product']);

export const STRIPE_INFO: ProviderInfo = {
  displayName: 'Stripe',
  description:
    'Stripe customers, products, prices and invoices through a secret or restricted API key: full lists, incremental reads through the Events API, idempotent creates, deletes of customers and products (Stripe has no soft delete), signed webhooks (deletions included).',
  config: [
    {
      name: 'apiBase',
      label: 'API base URL',
      type: 'url',
      required: false,
      secret: false,
      credentialTarget: true,
      placeholder: 'https://api.stripe.com',
      help: 'Leave empty for Stripe; a sandbox URL for tests.',
    },
    {
      name: 'requestsPerSecond',
      label: 'Requests per second',
      type: 'number',
      required: false,
      secret: false,
      placeholder: '25',
      help: 'Stripe allows 25 requests per second per endpoint by default.',
    },
    TIMEOUT_SETTING,
  ],
  credentials: [
    {
      name: 'apiKey',
      label: 'Secret key',
      type: 'string',
      required: true,
      secret: true,
      placeholder: 'sk_live_… or rk_live_…',
    },
    {
      name: 'webhookSecret',
      label: 'Webhook signing secret',
      type: 'string',
      required: false,
      secret: true,
      placeholder: 'whsec_…',
      help: 'Verifies the Stripe-Signature of webhook deliveries; needed only for webhooks.',
    },
  ],
  entityTypes: KINDS.map(
    (name): EntityTypeInfo => ({
      name,
      label: LABELS[name],
      fields: STRIPE_FIELDS[name],
      supports: {
        inbound: true,
        outbound: WRITABLE.has(name),
        incremental: true,
        webhooks: true,
        deletes: DELETABLE.has(name),
        softDeletes: false,
      },
    }),
  ),
};

/**
 * Stripe webhooks: `Stripe-Signature` (`t=`, `v1=` HMAC-SHA256 of `t.rawBody` with the endpoint's signing
 * secret, credential `webhookSecret`), 300 s tolerance. An event about a customer, product, price or invoice
 * (by the type of its `data.object`; `customer.discount.*` and the like name their customer) becomes one
 * changed record, marked `deleted` for `<kind>.deleted`; other events are acknowledged and ignored. The event id
 * is Stripe's `evt_…`.
 */
export function verifyStripeWebhook(delivery: WebhookDelivery, connection: ConnectionContext): WebhookEvent[] {
  const secret = connection.credentials.webhookSecret;
  if (!secret) throw new ProviderError('config', 'stripe webhook: the connection has no credentials.webhookSecret');
  const check = verifyStripeSignature(
    delivery.rawBody,
    delivery.headers['stripe-signature'],
    secret,
    delivery.now === undefined ? {} : { nowMs: delivery.now },
  );
  if (!check.ok) throw new ProviderError('auth', `stripe webhook: ${check.reason}`);
  const event = parseWebhookJson('stripe', delivery.rawBody);
  const ev = event as { id?: unknown; type?: unknown; data?: { object?: Record<string, unknown> } } | null;
  const object = ev?.data?.object;
  if (typeof ev?.id !== 'string' || typeof ev.type !== 'string' || typeof object !== 'object' || object === null) {
    throw new ProviderError('record', 'stripe webhook: the body is not a Stripe event');
  }
  const kind = object.object;
  if (typeof kind === 'string' && (KINDS as readonly string[]).includes(kind) && typeof object.id === 'string') {
    return [
      {
        eventId: ev.id,
        entityType: kind,
        recordId: object.id,
        ...(ev.type === `${kind}.deleted` ? { deleted: true } : {}),
      },
    ];
  }
  // customer.discount.*, customer.source.*, customer.tax_id.*: the customer's own view changed.
  if (ev.type.startsWith('customer.') && typeof object.customer === 'string') {
    return [{ eventId: ev.id, entityType: 'customer', recordId: object.customer }];
  }
  return [];
}

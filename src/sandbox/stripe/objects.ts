import { invalidParam, noSuch } from './errors.ts';
import type { Params } from './params.ts';
import { pick, type Rng } from './random.ts';

/** The object kinds this sandbox serves. */
export type StripeKind = 'customer' | 'product' | 'price' | 'invoice';
export const STRIPE_KINDS: readonly StripeKind[] = ['customer', 'product', 'price', 'invoice'];

export const ID_PREFIX: Record<StripeKind, string> = {
  customer: 'cus',
  product: 'prod',
  price: 'price',
  invoice: 'in',
};

/** Any Stripe API object: `id`, `object` (its kind), `created` (unix seconds) and its own fields. */
export interface StripeObject {
  id: string;
  object: string;
  created: number;
  [field: string]: unknown;
}

export interface StripeEvent extends StripeObject {
  object: 'event';
  type: string;
  api_version: string;
  data: { object: StripeObject; previous_attributes?: Record<string, unknown> };
  livemode: false;
  pending_webhooks: number;
  request: { id: string | null; idempotency_key: string | null };
}

export type Metadata = Record<string, string>;

function invoicePrefix(id: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).toUpperCase().padStart(8, '0');
}

export function newCustomer(id: string, created: number): StripeObject {
  return {
    id,
    object: 'customer',
    address: null,
    balance: 0,
    created,
    currency: null,
    default_source: null,
    delinquent: false,
    description: null,
    discount: null,
    email: null,
    invoice_prefix: invoicePrefix(id),
    invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
    livemode: false,
    metadata: {},
    name: null,
    next_invoice_sequence: 1,
    phone: null,
    preferred_locales: [],
    shipping: null,
    tax_exempt: 'none',
    test_clock: null,
  };
}

export function newProduct(id: string, created: number, name: string): StripeObject {
  return {
    id,
    object: 'product',
    active: true,
    created,
    default_price: null,
    description: null,
    images: [],
    livemode: false,
    marketing_features: [],
    metadata: {},
    name,
    package_dimensions: null,
    shippable: null,
    statement_descriptor: null,
    tax_code: null,
    type: 'service',
    unit_label: null,
    updated: created,
    url: null,
  };
}

export interface Recurring {
  interval: 'day' | 'week' | 'month' | 'year';
  interval_count: number;
  usage_type: 'licensed' | 'metered';
}

export function newPrice(
  id: string,
  created: number,
  product: string,
  currency: string,
  unitAmount: number | null,
  unitAmountDecimal: string,
  recurring: Recurring | null,
): StripeObject {
  return {
    id,
    object: 'price',
    active: true,
    billing_scheme: 'per_unit',
    created,
    currency,
    custom_unit_amount: null,
    livemode: false,
    lookup_key: null,
    metadata: {},
    nickname: null,
    product,
    recurring: recurring
      ? {
          interval: recurring.interval,
          interval_count: recurring.interval_count,
          meter: null,
          trial_period_days: null,
          usage_type: recurring.usage_type,
        }
      : null,
    tax_behavior: 'unspecified',
    tiers_mode: null,
    transform_quantity: null,
    type: recurring ? 'recurring' : 'one_time',
    unit_amount: unitAmount,
    unit_amount_decimal: unitAmountDecimal,
  };
}

export type InvoiceStatus = 'draft' | 'open' | 'paid' | 'uncollectible' | 'void';
export const INVOICE_STATUSES: readonly InvoiceStatus[] = ['draft', 'open', 'paid', 'uncollectible', 'void'];

export function newInvoice(
  id: string,
  created: number,
  customer: StripeObject,
  options: { status: InvoiceStatus; amount: number; number: string | null; price?: StripeObject; lineId: string },
): StripeObject {
  const { status, amount } = options;
  const finalized = status !== 'draft';
  const periodStart = created - 30 * 86400;
  return {
    id,
    object: 'invoice',
    account_country: 'US',
    account_name: 'Otesse Sandbox',
    amount_due: amount,
    amount_paid: status === 'paid' ? amount : 0,
    amount_remaining: status === 'paid' || status === 'void' ? 0 : amount,
    attempt_count: status === 'paid' || status === 'uncollectible' ? 1 : 0,
    attempted: status === 'paid' || status === 'uncollectible',
    auto_advance: status === 'draft' || status === 'open',
    billing_reason: 'manual',
    collection_method: 'charge_automatically',
    created,
    currency: 'usd',
    customer: customer.id,
    customer_email: customer.email ?? null,
    customer_name: customer.name ?? null,
    description: null,
    due_date: null,
    effective_at: finalized ? created + 3600 : null,
    ending_balance: finalized ? 0 : null,
    hosted_invoice_url: null,
    invoice_pdf: null,
    lines: {
      object: 'list',
      data: [
        {
          id: options.lineId,
          object: 'line_item',
          amount,
          currency: 'usd',
          description: options.price ? `1 × ${String(options.price.nickname ?? options.price.product)}` : 'Services',
          invoice: id,
          livemode: false,
          metadata: {},
          period: { start: periodStart, end: created },
          pricing: options.price
            ? {
                price_details: { price: options.price.id, product: options.price.product },
                type: 'price_details',
                unit_amount_decimal: String(amount),
              }
            : null,
          quantity: 1,
        },
      ],
      has_more: false,
      total_count: 1,
      url: `/v1/invoices/${id}/lines`,
    },
    livemode: false,
    metadata: {},
    number: options.number,
    period_end: created,
    period_start: periodStart,
    status,
    status_transitions: {
      finalized_at: finalized ? created + 3600 : null,
      marked_uncollectible_at: status === 'uncollectible' ? created + 7200 : null,
      paid_at: status === 'paid' ? created + 3700 : null,
      voided_at: status === 'void' ? created + 7200 : null,
    },
    subtotal: amount,
    total: amount,
    total_excluding_tax: amount,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Seed data

const FIRST = [
  'Ada',
  'Grace',
  'Alan',
  'Edsger',
  'Barbara',
  'Donald',
  'Frances',
  'Ken',
  'Radia',
  'Tim',
  'Margaret',
  'Linus',
];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Allen', 'Thompson', 'Perlman', 'Lee'];
const PRODUCT_NAMES = ['Starter', 'Growth', 'Scale', 'Enterprise', 'Support', 'Storage', 'Seats', 'Add-on'];
const AMOUNTS = [500, 900, 1000, 2500, 4900, 9900, 19900];

export function seedCustomer(id: string, created: number, index: number, rng: Rng): StripeObject {
  const first = pick(rng, FIRST);
  const last = pick(rng, LAST);
  const customer = newCustomer(id, created);
  customer.name = `${first} ${last}`;
  customer.email = `${first}.${last}.${index}@example.com`.toLowerCase();
  if (rng() < 0.3) customer.phone = `+1555${String(Math.floor(rng() * 10_000_000)).padStart(7, '0')}`;
  if (rng() < 0.2) customer.metadata = { plan: pick(rng, ['free', 'pro', 'team']) };
  return customer;
}

export function seedProduct(id: string, created: number, index: number, rng: Rng): StripeObject {
  const product = newProduct(id, created, `${pick(rng, PRODUCT_NAMES)} ${index + 1}`);
  if (rng() < 0.5) product.description = `Sandbox product number ${index + 1}`;
  return product;
}

export function seedPrice(id: string, created: number, product: string, rng: Rng): StripeObject {
  const amount = pick(rng, AMOUNTS);
  const recurring: Recurring | null =
    rng() < 0.6 ? { interval: pick(rng, ['month', 'year'] as const), interval_count: 1, usage_type: 'licensed' } : null;
  return newPrice(id, created, product, 'usd', amount, String(amount), recurring);
}

export function seedInvoiceStatus(rng: Rng): InvoiceStatus {
  const r = rng();
  if (r < 0.6) return 'paid';
  if (r < 0.8) return 'open';
  if (r < 0.9) return 'draft';
  if (r < 0.95) return 'void';
  return 'uncollectible';
}

export function seedAmount(rng: Rng): number {
  return pick(rng, AMOUNTS);
}

// ---------------------------------------------------------------------------------------------------------------
// Writes from API parameters

const EMAIL = /^[^\s@]+@[^\s@]+$/;

const CUSTOMER_PARAMS = [
  'address',
  'balance',
  'description',
  'email',
  'invoice_prefix',
  'metadata',
  'name',
  'next_invoice_sequence',
  'phone',
  'preferred_locales',
  'shipping',
  'tax_exempt',
  'expand',
];
const CUSTOMER_UNSUPPORTED = [
  'business_name',
  'cash_balance',
  'coupon',
  'default_source',
  'individual_name',
  'invoice_settings',
  'payment_method',
  'promotion_code',
  'source',
  'tax',
  'tax_id_data',
  'test_clock',
  'validate',
];

/** Applies create or update parameters to a customer (a copy is returned). */
export function applyCustomerParams(current: StripeObject, p: Params): StripeObject {
  p.only(CUSTOMER_PARAMS, CUSTOMER_UNSUPPORTED);
  const next: StripeObject = structuredClone(current);
  const email = p.string('email', { max: 512 });
  if (email !== undefined) {
    if (email !== null && !EMAIL.test(email))
      throw invalidParam(`Invalid email address: ${email}`, 'email', 'email_invalid');
    next.email = email;
  }
  const name = p.string('name', { max: 256 });
  if (name !== undefined) next.name = name;
  const description = p.string('description', { max: 350 });
  if (description !== undefined) next.description = description;
  const phone = p.string('phone', { max: 20 });
  if (phone !== undefined) next.phone = phone;
  const balance = p.integer('balance');
  if (balance !== undefined) next.balance = balance;
  const sequence = p.integer('next_invoice_sequence', { min: 1 });
  if (sequence !== undefined) next.next_invoice_sequence = sequence;
  const prefix = p.string('invoice_prefix', { unset: false });
  if (prefix !== undefined && prefix !== null) {
    if (!/^[A-Z0-9]{3,12}$/.test(prefix)) {
      throw invalidParam('Invalid invoice_prefix: must be 3 to 12 uppercase letters or numbers', 'invoice_prefix');
    }
    next.invoice_prefix = prefix;
  }
  const taxExempt = p.oneOf('tax_exempt', ['none', 'exempt', 'reverse'] as const);
  if (taxExempt !== undefined) next.tax_exempt = taxExempt;
  const locales = p.stringArray('preferred_locales', { maxItems: 10 });
  if (locales !== undefined) next.preferred_locales = locales;
  const address = p.hash('address');
  if (address !== undefined) next.address = address === null ? null : readAddress(address);
  const shipping = p.hash('shipping');
  if (shipping !== undefined) {
    if (shipping === null) next.shipping = null;
    else {
      shipping.only(['address', 'name', 'phone']);
      next.shipping = {
        address: readAddress(shipping.hash('address', { required: true })!),
        name: shipping.requiredString('name'),
        phone: shipping.string('phone') ?? null,
      };
    }
  }
  const metadata = p.metadata('metadata', current.metadata as Metadata);
  if (metadata !== undefined) next.metadata = metadata;
  return next;
}

function readAddress(p: Params): Record<string, string | null> {
  const fields = ['city', 'country', 'line1', 'line2', 'postal_code', 'state'];
  p.only(fields);
  const out: Record<string, string | null> = {};
  for (const field of fields) out[field] = p.string(field, { max: 200 }) ?? null;
  return out;
}

const PRODUCT_COMMON = [
  'active',
  'description',
  'images',
  'metadata',
  'name',
  'shippable',
  'statement_descriptor',
  'tax_code',
  'unit_label',
  'url',
  'expand',
];
const PRODUCT_UNSUPPORTED = ['default_price_data', 'marketing_features', 'package_dimensions', 'type'];

/** Applies product parameters; `isCreate` allows `id` and requires `name`. */
export function applyProductParams(
  current: StripeObject,
  p: Params,
  isCreate: boolean,
  priceLookup: (id: string) => StripeObject | undefined,
): StripeObject {
  p.only(isCreate ? ['id', ...PRODUCT_COMMON] : ['default_price', ...PRODUCT_COMMON], PRODUCT_UNSUPPORTED);
  const next: StripeObject = structuredClone(current);
  const name = p.string('name', { required: isCreate, unset: false, max: 250 });
  if (name) next.name = name;
  const active = p.boolean('active');
  if (active !== undefined) next.active = active;
  const description = p.string('description', { max: 40000 });
  if (description !== undefined) next.description = description;
  const images = p.stringArray('images', { maxItems: 8, maxLength: 2048 });
  if (images !== undefined) next.images = images;
  const shippable = p.boolean('shippable');
  if (shippable !== undefined) next.shippable = shippable;
  const descriptor = p.string('statement_descriptor', { max: 22 });
  if (descriptor !== undefined) {
    if (descriptor !== null && (/[<>\\'"*]/.test(descriptor) || !/[A-Za-z]/.test(descriptor))) {
      throw invalidParam(
        'Invalid statement_descriptor: it must contain at least one letter and none of < > \\ \' " *',
        'statement_descriptor',
      );
    }
    next.statement_descriptor = descriptor;
  }
  const taxCode = p.string('tax_code');
  if (taxCode !== undefined) next.tax_code = taxCode;
  const unitLabel = p.string('unit_label', { max: 12 });
  if (unitLabel !== undefined) next.unit_label = unitLabel;
  const url = p.string('url', { max: 2048 });
  if (url !== undefined) next.url = url;
  const defaultPrice = p.string('default_price');
  if (defaultPrice !== undefined) {
    if (defaultPrice !== null) {
      const price = priceLookup(defaultPrice);
      if (!price || price.product !== current.id) throw noSuch('price', defaultPrice, 'default_price', 400);
      if (price.active === false) {
        throw invalidParam('The default price must be active.', 'default_price');
      }
    }
    next.default_price = defaultPrice;
  }
  const metadata = p.metadata('metadata', current.metadata as Metadata);
  if (metadata !== undefined) next.metadata = metadata;
  return next;
}

export const PRICE_CREATE_PARAMS = [
  'active',
  'billing_scheme',
  'currency',
  'expand',
  'lookup_key',
  'metadata',
  'nickname',
  'product',
  'product_data',
  'recurring',
  'tax_behavior',
  'unit_amount',
  'unit_amount_decimal',
];
export const PRICE_CREATE_UNSUPPORTED = [
  'currency_options',
  'custom_unit_amount',
  'tiers',
  'tiers_mode',
  'transfer_lookup_key',
  'transform_quantity',
];

export function readPriceAmount(p: Params): { unitAmount: number | null; decimal: string } {
  const unitAmount = p.integer('unit_amount', { min: 0, max: 99_999_999 });
  const decimal = p.string('unit_amount_decimal', { unset: false });
  if (unitAmount !== undefined && decimal) {
    throw invalidParam(
      'You may only specify one of these parameters: unit_amount, unit_amount_decimal.',
      'unit_amount',
    );
  }
  if (unitAmount !== undefined) return { unitAmount, decimal: String(unitAmount) };
  if (decimal) {
    if (!/^\d{1,12}(\.\d{1,12})?$/.test(decimal)) {
      throw invalidParam(`Invalid decimal: ${decimal}`, 'unit_amount_decimal');
    }
    const n = Number(decimal);
    return { unitAmount: Number.isInteger(n) ? n : null, decimal };
  }
  throw invalidParam(
    'Missing required param: unit_amount (or unit_amount_decimal, or custom_unit_amount).',
    'unit_amount',
    'parameter_missing',
  );
}

export function readRecurring(p: Params): Recurring | undefined {
  const recurring = p.hash('recurring');
  if (!recurring) return undefined;
  recurring.only(['interval', 'interval_count', 'usage_type'], ['meter', 'trial_period_days', 'aggregate_usage']);
  const interval = recurring.oneOf('interval', ['day', 'week', 'month', 'year'] as const, { required: true })!;
  const max = { day: 1095, week: 156, month: 36, year: 3 }[interval];
  const intervalCount = recurring.integer('interval_count', { min: 1, max }) ?? 1;
  const usageType = recurring.oneOf('usage_type', ['licensed', 'metered'] as const) ?? 'licensed';
  return { interval, interval_count: intervalCount, usage_type: usageType };
}

export function readCurrency(p: Params): string {
  const currency = p.requiredString('currency');
  if (!/^[a-zA-Z]{3}$/.test(currency)) throw invalidParam(`Invalid currency: ${currency}`, 'currency');
  return currency.toLowerCase();
}

/** Parameters shared by price create and update, applied to a copy. */
export function applyPriceCommon(current: StripeObject, p: Params): StripeObject {
  const next: StripeObject = structuredClone(current);
  const active = p.boolean('active');
  if (active !== undefined) next.active = active;
  const nickname = p.string('nickname', { max: 250 });
  if (nickname !== undefined) next.nickname = nickname;
  const lookupKey = p.string('lookup_key', { max: 200 });
  if (lookupKey !== undefined) next.lookup_key = lookupKey;
  const taxBehavior = p.oneOf('tax_behavior', ['inclusive', 'exclusive', 'unspecified'] as const);
  if (taxBehavior !== undefined) {
    if (current.tax_behavior !== 'unspecified' && current.tax_behavior !== taxBehavior) {
      throw invalidParam('tax_behavior cannot be changed once it is set to inclusive or exclusive.', 'tax_behavior');
    }
    next.tax_behavior = taxBehavior;
  }
  const metadata = p.metadata('metadata', current.metadata as Metadata);
  if (metadata !== undefined) next.metadata = metadata;
  return next;
}

/** Top-level fields whose values changed, with their previous values (an event's `previous_attributes`). */
export function previousAttributes(before: StripeObject, after: StripeObject): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  for (const key of keys) {
    if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) out[key] = before[key] ?? null;
  }
  return out;
}

/**
 * The broken shape served for ids listed in `faults.malformed`: fields with the wrong type and `created` missing,
 * as a provider bug or an unexpected API version might deliver.
 */
export function malformedCopy(object: StripeObject): Record<string, unknown> {
  const broken: Record<string, unknown> = { ...object };
  delete broken.created;
  switch (object.object) {
    case 'customer':
      broken.email = 12345;
      break;
    case 'product':
      broken.name = 12345;
      break;
    case 'price':
      broken.unit_amount = 'twelve';
      break;
    case 'invoice':
      broken.amount_due = 'lots';
      break;
  }
  broken.metadata = 'not-a-hash';
  return broken;
}

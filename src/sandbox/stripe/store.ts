import { SortedCollection } from './collection.ts';
import {
  ID_PREFIX,
  newCustomer,
  newInvoice,
  newPrice,
  newProduct,
  previousAttributes,
  type StripeEvent,
  type StripeKind,
  type StripeObject,
  seedAmount,
  seedCustomer,
  seedInvoiceStatus,
  seedPrice,
  seedProduct,
} from './objects.ts';
import { base62, createRng, type Rng, randomBase62 } from './random.ts';

/** The API version stamped on events (the one the installed `stripe` SDK pins). */
export const SANDBOX_API_VERSION = '2026-10-28.endive';
/** Events can be listed or retrieved for 30 days. */
export const EVENT_RETENTION_SECONDS = 30 * 86400;

export interface SeedCounts {
  customers?: number;
  products?: number;
  prices?: number;
  invoices?: number;
}

export interface RequestContext {
  requestId: string | null;
  idempotencyKey: string | null;
}

const NO_REQUEST: RequestContext = { requestId: null, idempotencyKey: null };

/**
 * The sandbox's data: one sorted collection per kind plus the event log. Objects are never mutated in place: a
 * change replaces the object, so an event keeps the object as it was when the event happened.
 */
export class StripeStore {
  readonly collections: Record<StripeKind, SortedCollection<StripeObject>> = {
    customer: new SortedCollection(),
    product: new SortedCollection(),
    price: new SortedCollection(),
    invoice: new SortedCollection(),
  };
  readonly events = new SortedCollection<StripeEvent>();
  private readonly listeners: ((event: StripeEvent) => void)[] = [];
  /** Starts high enough that ids do not begin with a run of zeros. */
  private sequence = 17 * 62 ** 5;
  private readonly idRng: Rng;

  constructor(
    /** Milliseconds since the epoch, like `Date.now`. */
    readonly nowMs: () => number,
    readonly seed: number,
  ) {
    this.idRng = createRng(seed ^ 0x5eed1d);
  }

  now(): number {
    return Math.floor(this.nowMs() / 1000);
  }

  /**
   * A Stripe-looking id: a 6-digit base-62 sequence then 8 random characters (`cus_HAb3xZ…`). Ids grow in creation order, so
   * "created desc, then id desc" lists objects created in the same second newest first.
   */
  newId(prefix: string): string {
    return `${prefix}_${base62(++this.sequence, 6)}${randomBase62(this.idRng, 8)}`;
  }

  onEvent(listener: (event: StripeEvent) => void): void {
    this.listeners.push(listener);
  }

  get(kind: StripeKind, id: string): StripeObject | undefined {
    return this.collections[kind].get(id);
  }

  create(kind: StripeKind, object: StripeObject, context: RequestContext = NO_REQUEST): StripeObject {
    this.collections[kind].insert(object);
    this.emit(`${kind}.created`, object, undefined, context);
    return object;
  }

  /** Stores a changed copy and emits `<kind>.updated` with the changed fields' previous values (none if unchanged). */
  update(kind: StripeKind, next: StripeObject, context: RequestContext = NO_REQUEST): StripeObject {
    const before = this.collections[kind].get(next.id);
    if (!before) throw new Error(`unknown ${kind} ${next.id}`);
    const previous = previousAttributes(before, next);
    if (Object.keys(previous).length === 0) return before;
    if (kind === 'product' && !('updated' in previous)) {
      next.updated = this.now();
      previous.updated = before.updated;
    }
    this.collections[kind].replace(next);
    this.emit(`${kind}.updated`, next, previous, context);
    return next;
  }

  delete(kind: StripeKind, id: string, context: RequestContext = NO_REQUEST): StripeObject | undefined {
    const removed = this.collections[kind].remove(id);
    if (removed) this.emit(`${kind}.deleted`, removed, undefined, context);
    return removed;
  }

  emit(
    type: string,
    object: StripeObject,
    previous: Record<string, unknown> | undefined,
    context: RequestContext = NO_REQUEST,
  ): StripeEvent {
    const event: StripeEvent = {
      id: this.newId('evt'),
      object: 'event',
      api_version: SANDBOX_API_VERSION,
      created: this.now(),
      data: previous ? { object, previous_attributes: previous } : { object },
      livemode: false,
      pending_webhooks: 0,
      request: { id: context.requestId, idempotency_key: context.idempotencyKey },
      type,
    };
    this.events.insert(event);
    for (const listener of this.listeners) listener(event);
    return event;
  }

  /** The oldest `created` still inside event retention. */
  retentionStart(): number {
    return this.now() - EVENT_RETENTION_SECONDS;
  }

  /**
   * Deterministic seed data, all in the past (no events: like an account whose history predates the events
   * window). Pairs of records share a `created` second so the id tie-break is exercised.
   */
  seedRecords(counts: SeedCounts): void {
    const rng = createRng(this.seed);
    const now = this.now();
    const createdAt = (i: number, n: number) => now - 3600 - Math.floor((n - 1 - i) / 2) * 60;
    const customers = counts.customers ?? 0;
    const invoices = counts.invoices ?? 0;
    const prices = counts.prices ?? 0;
    const products = Math.max(counts.products ?? 0, prices > 0 ? 1 : 0);
    const customerIds: string[] = [];
    for (let i = 0; i < customers; i++) {
      const c = seedCustomer(this.newId(ID_PREFIX.customer), createdAt(i, customers), i, rng);
      this.collections.customer.insert(c);
      customerIds.push(c.id);
    }
    const productIds: string[] = [];
    for (let i = 0; i < products; i++) {
      const p = seedProduct(this.newId(ID_PREFIX.product), createdAt(i, products), i, rng);
      this.collections.product.insert(p);
      productIds.push(p.id);
    }
    const priceIds: string[] = [];
    for (let i = 0; i < prices; i++) {
      const productId = productIds[i % productIds.length]!;
      const price = seedPrice(this.newId(ID_PREFIX.price), createdAt(i, prices), productId, rng);
      this.collections.price.insert(price);
      priceIds.push(price.id);
      const product = this.collections.product.get(productId)!;
      if (product.default_price === null) this.collections.product.replace({ ...product, default_price: price.id });
    }
    if (invoices > 0 && customerIds.length === 0) {
      const c = seedCustomer(this.newId(ID_PREFIX.customer), now - 86400 * 400, 0, rng);
      this.collections.customer.insert(c);
      customerIds.push(c.id);
    }
    const sequences = new Map<string, number>();
    for (let i = 0; i < invoices; i++) {
      const customer = this.collections.customer.get(customerIds[(i * 7) % customerIds.length]!)!;
      const status = seedInvoiceStatus(rng);
      const price = priceIds.length > 0 ? this.collections.price.get(priceIds[i % priceIds.length]!) : undefined;
      const amount = typeof price?.unit_amount === 'number' ? price.unit_amount : seedAmount(rng);
      let number: string | null = null;
      if (status !== 'draft') {
        const n = (sequences.get(customer.id) ?? 0) + 1;
        sequences.set(customer.id, n);
        number = `${String(customer.invoice_prefix)}-${String(n).padStart(4, '0')}`;
      }
      const id = this.newId(ID_PREFIX.invoice);
      this.collections.invoice.insert(
        newInvoice(id, createdAt(i, invoices), customer, { status, amount, number, price, lineId: this.newId('il') }),
      );
    }
  }

  /** A full object of `kind` from a partial one (tests' `store.put`), with defaults for what is missing. */
  complete(kind: StripeKind, partial: Partial<StripeObject>): StripeObject {
    const id = partial.id ?? this.newId(ID_PREFIX[kind]);
    const created = partial.created ?? this.now();
    let base: StripeObject;
    switch (kind) {
      case 'customer':
        base = newCustomer(id, created);
        break;
      case 'product':
        base = newProduct(id, created, typeof partial.name === 'string' ? partial.name : 'Product');
        break;
      case 'price':
        base = newPrice(id, created, String(partial.product ?? ''), 'usd', 1000, '1000', null);
        break;
      case 'invoice': {
        const customerId = typeof partial.customer === 'string' ? partial.customer : '';
        const customer = this.collections.customer.get(customerId) ?? newCustomer(customerId, created);
        base = newInvoice(id, created, customer, {
          status: 'draft',
          amount: 0,
          number: null,
          lineId: this.newId('il'),
        });
        break;
      }
    }
    return { ...base, ...structuredClone(partial), id, created, object: kind } as StripeObject;
  }
}

import { type CreatedRange, listPage } from './collection.ts';
import { invalidParam, noSuch, StripeApiError, unsupportedParam } from './errors.ts';
import type { FormObject } from './form.ts';
import {
  applyCustomerParams,
  applyPriceCommon,
  applyProductParams,
  ID_PREFIX,
  INVOICE_STATUSES,
  malformedCopy,
  newCustomer,
  newPrice,
  newProduct,
  PRICE_CREATE_PARAMS,
  PRICE_CREATE_UNSUPPORTED,
  readCurrency,
  readPriceAmount,
  readRecurring,
  type StripeEvent,
  type StripeKind,
  type StripeObject,
} from './objects.ts';
import { Params } from './params.ts';
import type { RequestContext, StripeStore } from './store.ts';

export interface ApiResult {
  status: number;
  body: unknown;
}

export interface ApiContext {
  store: StripeStore;
  request: RequestContext;
  /** Ids served with a broken shape. */
  malformed: ReadonlySet<string>;
  /** Change the cursor object while a list is paged (an update event is emitted). */
  mutateDuringList: boolean;
  /** Counts the mutations made for `mutateDuringList`. */
  onMutation: () => number;
}

const COLLECTIONS: Record<string, StripeKind> = {
  customers: 'customer',
  products: 'product',
  prices: 'price',
  invoices: 'invoice',
};

/** Writable kinds and the kinds that can be deleted. */
const CREATABLE = new Set<StripeKind>(['customer', 'product', 'price']);
const DELETABLE = new Set<StripeKind>(['customer', 'product']);

/** The route a request matches, for counting; null when the URL is not part of the sandbox's API. */
export function routeOf(method: string, path: string): string | null {
  const parts = path.split('/').filter(Boolean);
  if (parts[0] !== 'v1' || parts.length < 2 || parts.length > 3) return null;
  const collection = parts[1]!;
  if (collection !== 'events' && !COLLECTIONS[collection]) return null;
  const tail = parts.length === 3 ? '/:id' : '';
  const route = `${method} /v1/${collection}${tail}`;
  const known = [
    'GET /v1/events',
    'GET /v1/events/:id',
    ...Object.keys(COLLECTIONS).flatMap((c) => [`GET /v1/${c}`, `GET /v1/${c}/:id`]),
    ...[...CREATABLE].map((k) => `POST /v1/${plural(k)}`),
    ...[...CREATABLE].map((k) => `POST /v1/${plural(k)}/:id`),
    ...[...DELETABLE].map((k) => `DELETE /v1/${plural(k)}/:id`),
  ];
  return known.includes(route) ? route : null;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function plural(kind: StripeKind): string {
  return `${kind}s`;
}

export function unrecognizedUrl(method: string, path: string): StripeApiError {
  return new StripeApiError(
    404,
    'invalid_request_error',
    `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
    {},
    false,
  );
}

/** Runs one API call. Throws `StripeApiError` for Stripe-style failures. */
export function handleApi(context: ApiContext, method: string, path: string, raw: FormObject): ApiResult {
  const parts = path.split('/').filter(Boolean);
  const collection = parts[1]!;
  const id = parts[2] !== undefined ? safeDecode(parts[2]) : undefined;
  const params = new Params(raw);
  if (collection === 'events') {
    return id === undefined ? listEvents(context, params) : retrieveEvent(context, id, params);
  }
  const kind = COLLECTIONS[collection]!;
  if (method === 'GET') return id === undefined ? list(context, kind, params) : retrieve(context, kind, id, params);
  if (method === 'POST') return id === undefined ? create(context, kind, params) : update(context, kind, id, params);
  return remove(context, kind, id!, params);
}

// ---------------------------------------------------------------------------------------------------------------
// Presentation: expansion and malformed records

const EXPANDABLE: Partial<Record<StripeKind, Record<string, StripeKind>>> = {
  price: { product: 'product' },
  invoice: { customer: 'customer' },
};

function readExpand(params: Params, kind: StripeKind | 'event', isList: boolean): string[] {
  const expand = params.stringArray('expand', { maxItems: 20 });
  if (!expand) return [];
  const fields: string[] = [];
  for (const path of expand) {
    const field = isList ? (path.startsWith('data.') ? path.slice(5) : null) : path;
    const target = kind === 'event' || field === null ? undefined : EXPANDABLE[kind]?.[field];
    if (!target) throw invalidParam(`This property cannot be expanded (${path}).`, 'expand');
    fields.push(field!);
  }
  return fields;
}

function present(context: ApiContext, kind: StripeKind, object: StripeObject, expand: readonly string[]): unknown {
  if (context.malformed.has(object.id)) return malformedCopy(object);
  if (expand.length === 0) return object;
  const out: Record<string, unknown> = { ...object };
  for (const field of expand) {
    const target = EXPANDABLE[kind]![field]!;
    const ref = object[field];
    if (typeof ref !== 'string') continue;
    const found = context.store.get(target, ref);
    if (found) out[field] = present(context, target, found, []);
    else if (context.store.collections[target].isDeleted(ref)) out[field] = { id: ref, object: target, deleted: true };
  }
  return out;
}

function presentEvent(context: ApiContext, event: StripeEvent): unknown {
  if (context.malformed.size === 0 || !context.malformed.has(event.data.object.id)) return event;
  return { ...event, data: { ...event.data, object: malformedCopy(event.data.object) } };
}

// ---------------------------------------------------------------------------------------------------------------
// Lists

interface ListParams {
  limit: number;
  startingAfter?: string;
  endingBefore?: string;
  created?: CreatedRange;
}

const LIST_COMMON = ['limit', 'starting_after', 'ending_before', 'created', 'expand'];

function readListParams(params: Params): ListParams {
  const limit = params.integer('limit', { min: 1, max: 100 }) ?? 10;
  const startingAfter = params.string('starting_after', { unset: false }) ?? undefined;
  const endingBefore = params.string('ending_before', { unset: false }) ?? undefined;
  if (startingAfter !== undefined && endingBefore !== undefined) {
    throw invalidParam('You may only specify one of these parameters: ending_before, starting_after.', 'ending_before');
  }
  return { limit, startingAfter, endingBefore, created: readCreated(params, 'created') };
}

function readCreated(params: Params, key: string): CreatedRange | undefined {
  const value = params.value(key);
  if (value === undefined) return undefined;
  if (typeof value === 'string') {
    const exact = params.integer(key)!;
    return { gte: exact, lte: exact };
  }
  const range = params.hash(key)!;
  range.only(['gt', 'gte', 'lt', 'lte']);
  const out: CreatedRange = {};
  for (const op of ['gt', 'gte', 'lt', 'lte'] as const) {
    const n = range.integer(op);
    if (n !== undefined) out[op] = n;
  }
  return out;
}

function cursorFor(
  collection: { cursor(id: string): { olderEnd: number; newerStart: number } | undefined },
  label: string,
  list: ListParams,
  isVisible: (id: string) => boolean = () => true,
) {
  const cursorId = list.startingAfter ?? list.endingBefore;
  if (cursorId === undefined) return undefined;
  const position = isVisible(cursorId) ? collection.cursor(cursorId) : undefined;
  if (!position) {
    throw noSuch(label, cursorId, list.startingAfter !== undefined ? 'starting_after' : 'ending_before', 400);
  }
  return position;
}

function list(context: ApiContext, kind: StripeKind, params: Params): ApiResult {
  const filters: ((o: StripeObject) => boolean)[] = [];
  switch (kind) {
    case 'customer': {
      params.only([...LIST_COMMON, 'email'], ['test_clock']);
      const email = params.string('email', { max: 512, unset: false });
      if (email) filters.push((o) => o.email === email);
      break;
    }
    case 'product': {
      params.only([...LIST_COMMON, 'active', 'ids', 'shippable', 'url']);
      const active = params.boolean('active');
      if (active !== undefined) filters.push((o) => o.active === active);
      const ids = params.stringArray('ids', { maxItems: 100 });
      if (ids) {
        const set = new Set(ids);
        filters.push((o) => set.has(o.id));
      }
      const shippable = params.boolean('shippable');
      if (shippable !== undefined) filters.push((o) => o.shippable === shippable);
      const url = params.string('url', { unset: false });
      if (url) filters.push((o) => o.url === url);
      break;
    }
    case 'price': {
      params.only([...LIST_COMMON, 'active', 'currency', 'lookup_keys', 'product', 'type'], ['recurring']);
      const active = params.boolean('active');
      if (active !== undefined) filters.push((o) => o.active === active);
      const currency = params.string('currency', { unset: false });
      if (currency) filters.push((o) => o.currency === currency.toLowerCase());
      const product = params.string('product', { unset: false });
      if (product) filters.push((o) => o.product === product);
      const type = params.oneOf('type', ['one_time', 'recurring'] as const);
      if (type) filters.push((o) => o.type === type);
      const lookupKeys = params.stringArray('lookup_keys', { maxItems: 10 });
      if (lookupKeys) filters.push((o) => typeof o.lookup_key === 'string' && lookupKeys.includes(o.lookup_key));
      break;
    }
    case 'invoice': {
      params.only([...LIST_COMMON, 'customer', 'status', 'collection_method'], ['due_date', 'subscription']);
      const customer = params.string('customer', { unset: false });
      if (customer) filters.push((o) => o.customer === customer);
      const status = params.oneOf('status', INVOICE_STATUSES);
      if (status) filters.push((o) => o.status === status);
      const method = params.oneOf('collection_method', ['charge_automatically', 'send_invoice'] as const);
      if (method) filters.push((o) => o.collection_method === method);
      break;
    }
  }
  const expand = readExpand(params, kind, true);
  const listParams = readListParams(params);
  const collection = context.store.collections[kind];
  const cursor = cursorFor(collection, kind, listParams);
  if (context.mutateDuringList && listParams.startingAfter !== undefined) {
    const target = collection.get(listParams.startingAfter);
    if (target) {
      const n = context.onMutation();
      const metadata = { ...(target.metadata as Record<string, string>), sandbox_mutation: String(n) };
      const changed: StripeObject = { ...target, metadata };
      if (kind === 'customer' && typeof target.name === 'string')
        changed.name = `${target.name.replace(/ \(edited \d+\)$/, '')} (edited ${n})`;
      context.store.update(kind, changed);
    }
  }
  const filter = filters.length === 0 ? undefined : (o: StripeObject) => filters.every((f) => f(o));
  const page = listPage(collection, { ...listParams, filter }, cursor);
  return {
    status: 200,
    body: {
      object: 'list',
      data: page.data.map((o) => present(context, kind, o, expand)),
      has_more: page.hasMore,
      url: `/v1/${plural(kind)}`,
    },
  };
}

function listEvents(context: ApiContext, params: Params): ApiResult {
  params.only([...LIST_COMMON, 'type', 'types'], ['delivery_success']);
  readExpand(params, 'event', true);
  const type = params.string('type', { unset: false }) ?? undefined;
  const types = params.stringArray('types', { maxItems: 20 });
  if (type !== undefined && types !== undefined) {
    throw invalidParam('You may only specify one of these parameters: type, types.', 'types');
  }
  let filter: ((e: StripeEvent) => boolean) | undefined;
  if (type !== undefined) {
    if (type.endsWith('*')) {
      const prefix = type.slice(0, -1);
      filter = (e) => e.type.startsWith(prefix);
    } else filter = (e) => e.type === type;
  } else if (types !== undefined && types.length > 0) {
    const set = new Set(types);
    filter = (e) => set.has(e.type);
  }
  const listParams = readListParams(params);
  const store = context.store;
  const notBefore = store.retentionStart();
  const visible = (id: string) => {
    const event = store.events.get(id);
    return event !== undefined && event.created >= notBefore;
  };
  const cursor = cursorFor(store.events, 'event', listParams, visible);
  const page = listPage(store.events, { ...listParams, filter, notBefore }, cursor);
  return {
    status: 200,
    body: {
      object: 'list',
      data: page.data.map((e) => presentEvent(context, e)),
      has_more: page.hasMore,
      url: '/v1/events',
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Single objects

function retrieve(context: ApiContext, kind: StripeKind, id: string, params: Params): ApiResult {
  params.only(['expand']);
  const expand = readExpand(params, kind, false);
  const object = context.store.get(kind, id);
  if (!object) {
    if (kind === 'customer' && context.store.collections.customer.isDeleted(id)) {
      return { status: 200, body: { id, object: 'customer', deleted: true } };
    }
    throw noSuch(kind, id);
  }
  return { status: 200, body: present(context, kind, object, expand) };
}

function retrieveEvent(context: ApiContext, id: string, params: Params): ApiResult {
  params.only(['expand']);
  readExpand(params, 'event', false);
  const event = context.store.events.get(id);
  if (!event || event.created < context.store.retentionStart()) throw noSuch('event', id);
  return { status: 200, body: presentEvent(context, event) };
}

function create(context: ApiContext, kind: StripeKind, params: Params): ApiResult {
  const store = context.store;
  let object: StripeObject;
  let expand: string[] = [];
  switch (kind) {
    case 'customer':
      object = applyCustomerParams(newCustomer(store.newId(ID_PREFIX.customer), store.now()), params);
      break;
    case 'product': {
      object = buildProduct(context, params);
      break;
    }
    case 'price': {
      params.only(PRICE_CREATE_PARAMS, PRICE_CREATE_UNSUPPORTED);
      expand = readExpand(params, kind, false);
      const currency = readCurrency(params);
      const scheme = params.oneOf('billing_scheme', ['per_unit', 'tiered'] as const);
      if (scheme === 'tiered') throw unsupportedParam('billing_scheme');
      const amount = readPriceAmount(params);
      const recurring = readRecurring(params) ?? null;
      const productId = params.string('product', { unset: false }) ?? undefined;
      const productData = params.hash('product_data') ?? undefined;
      if ((productId === undefined) === (productData === undefined)) {
        throw invalidParam('You must specify exactly one of these parameters: product, product_data.', 'product');
      }
      let product: StripeObject | undefined;
      if (productId !== undefined) {
        product = store.get('product', productId);
        if (!product) throw noSuch('product', productId, 'product', 400);
      } else {
        productData!.only(['active', 'id', 'metadata', 'name', 'statement_descriptor', 'tax_code', 'unit_label']);
        product = buildProduct(context, productData!);
      }
      const base = newPrice(
        store.newId(ID_PREFIX.price),
        store.now(),
        product.id,
        currency,
        amount.unitAmount,
        amount.decimal,
        recurring,
      );
      object = applyPriceCommon(base, params);
      checkLookupKey(context, object);
      if (productData) store.create('product', product, context.request);
      break;
    }
    default:
      throw unrecognizedUrl('POST', `/v1/${plural(kind)}`);
  }
  if (kind !== 'price') expand = readExpand(params, kind, false);
  store.create(kind, object, context.request);
  return { status: 200, body: present(context, kind, object, expand) };
}

function buildProduct(context: ApiContext, params: Params): StripeObject {
  const store = context.store;
  const customId = params.string('id', { unset: false, max: 255 }) ?? undefined;
  if (customId !== undefined) {
    if (/\s/.test(customId)) throw invalidParam(`Invalid id: ${customId}`, params.name('id'));
    if (store.get('product', customId)) {
      throw new StripeApiError(400, 'invalid_request_error', 'Product already exists.', {
        code: 'resource_already_exists',
        param: params.name('id'),
      });
    }
  }
  const id = customId ?? store.newId(ID_PREFIX.product);
  return applyProductParams(newProduct(id, store.now(), ''), params, true, (priceId) => store.get('price', priceId));
}

function checkLookupKey(context: ApiContext, price: StripeObject): void {
  if (typeof price.lookup_key !== 'string') return;
  for (const other of context.store.collections.price.newestFirst()) {
    if (other.id !== price.id && other.active && other.lookup_key === price.lookup_key) {
      throw invalidParam(`A price (\`${other.id}\`) already uses that lookup key.`, 'lookup_key');
    }
  }
}

function update(context: ApiContext, kind: StripeKind, id: string, params: Params): ApiResult {
  const store = context.store;
  const current = store.get(kind, id);
  if (!current) throw noSuch(kind, id);
  let next: StripeObject;
  switch (kind) {
    case 'customer':
      next = applyCustomerParams(current, params);
      break;
    case 'product':
      next = applyProductParams(current, params, false, (priceId) => store.get('price', priceId));
      break;
    case 'price':
      params.only(
        ['active', 'expand', 'lookup_key', 'metadata', 'nickname', 'tax_behavior'],
        ['currency_options', 'migrate_to', 'transfer_lookup_key'],
      );
      next = applyPriceCommon(current, params);
      checkLookupKey(context, next);
      break;
    default:
      throw unrecognizedUrl('POST', `/v1/${plural(kind)}/${id}`);
  }
  const expand = readExpand(params, kind, false);
  const stored = store.update(kind, next, context.request);
  return { status: 200, body: present(context, kind, stored, expand) };
}

function remove(context: ApiContext, kind: StripeKind, id: string, params: Params): ApiResult {
  params.only([]);
  const store = context.store;
  if (!store.get(kind, id)) throw noSuch(kind, id);
  if (kind === 'product') {
    for (const price of store.collections.price.newestFirst()) {
      if (price.product === id) {
        throw invalidParam('This product cannot be deleted because it has one or more user-created prices.', 'id');
      }
    }
  }
  store.delete(kind, id, context.request);
  return { status: 200, body: { id, object: kind, deleted: true } };
}

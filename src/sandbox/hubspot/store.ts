import {
  buildSchemas,
  HUBSPOT_OBJECT_TYPES,
  type HubSpotObjectType,
  type ObjectSchema,
  type PropertyDefinition,
} from './schema.ts';

/**
 * One version of a record. Versions are immutable: a write replaces the record's version, so the search
 * index can keep pointing at an older version (search lags behind writes, as in HubSpot) without copies.
 */
export interface RecordVersion {
  readonly id: string;
  readonly num: number;
  /** Every stored value, including hs_object_id, createdate and the last-modified property (ISO strings). */
  readonly properties: Readonly<Record<string, string>>;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly archived: boolean;
  readonly archivedAt?: number;
}

/** A record as the API and the test store show it. */
export interface HubSpotObject {
  id: string;
  properties: Record<string, string | null>;
  createdAt: string;
  updatedAt: string;
  archived: boolean;
  archivedAt?: string;
}

/** Deterministic PRNG (mulberry32): the same seed gives the same records and the same fault draws. */
export function createRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** First index in [lo, hi) whose element is not `before` (arrays sorted so that `before` holds for a prefix). */
export function partitionPoint<T>(arr: readonly T[], before: (v: T) => boolean, lo = 0, hi = arr.length): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(arr[mid]!)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const byModKey = (a: RecordVersion, b: RecordVersion) => a.updatedAt - b.updatedAt || a.num - b.num;

/**
 * The records of one object type, with the indexes that keep every request logarithmic or proportional
 * to its page: `order` (by id, for list paging), unique-value maps, and a search index (by id and by
 * last-modified time) that is fed from a queue so that it can lag behind writes by `searchDelayMs`.
 */
export class ObjectCollection {
  readonly byId = new Map<string, RecordVersion>();
  /** Live versions by ascending numeric id (archived ones included; list requests skip them). */
  readonly order: RecordVersion[] = [];
  /** property → lower-cased value → id. */
  private readonly unique = new Map<string, Map<string, string>>();

  /** The search index: the versions search can see. */
  readonly indexed = new Map<string, RecordVersion>();
  readonly indexByNum: RecordVersion[] = [];
  readonly indexByMod: RecordVersion[] = [];
  private pending: { version: RecordVersion; changedAt: number }[] = [];
  private pendingHead = 0;

  constructor(readonly schema: ObjectSchema) {
    for (const [name, def] of schema.properties) if (def.unique) this.unique.set(name, new Map());
  }

  get(id: string): RecordVersion | undefined {
    return this.byId.get(id);
  }

  /** Resolves an id, or a value of a unique property when `idProperty` is given. */
  resolve(id: string, idProperty?: string): RecordVersion | undefined {
    if (!idProperty || idProperty === 'hs_object_id') return this.byId.get(id);
    const ref = this.unique.get(idProperty)?.get(id.toLowerCase());
    return ref === undefined ? undefined : this.byId.get(ref);
  }

  isUnique(property: string): boolean {
    return this.unique.has(property);
  }

  /** The id holding `value` in unique property `property`, if any. */
  uniqueOwner(property: string, value: string): string | undefined {
    return this.unique.get(property)?.get(value.toLowerCase());
  }

  /** Records in id order from the first id >= `fromNum`, skipping by archived state. */
  page(fromNum: number, limit: number, archived: boolean): { items: RecordVersion[]; next: number | null } {
    const items: RecordVersion[] = [];
    let i = partitionPoint(this.order, (v) => v.num < fromNum);
    for (; i < this.order.length && items.length < limit; i++) {
      const v = this.order[i]!;
      if (v.archived === archived) items.push(v);
    }
    // Look ahead so that the last page has no `next` (HubSpot omits paging at the end).
    while (i < this.order.length && this.order[i]!.archived !== archived) i++;
    return { items, next: i < this.order.length ? items.at(-1)!.num + 1 : null };
  }

  /** Inserts a new version (creates) or replaces the current one (updates, archives). */
  save(version: RecordVersion, changedAt: number, indexNow = false): void {
    const old = this.byId.get(version.id);
    this.byId.set(version.id, version);
    if (old) {
      this.order[this.orderIndex(old.num)] = version;
      for (const [prop, map] of this.unique) {
        const before = old.archived ? undefined : old.properties[prop];
        if (before !== undefined && map.get(before.toLowerCase()) === old.id) map.delete(before.toLowerCase());
      }
    } else {
      const at = partitionPoint(this.order, (v) => v.num < version.num);
      this.order.splice(at, 0, version);
    }
    if (!version.archived) {
      for (const [prop, map] of this.unique) {
        const value = version.properties[prop];
        if (value !== undefined) map.set(value.toLowerCase(), version.id);
      }
    }
    if (indexNow) this.index(version);
    else this.pending.push({ version, changedAt });
  }

  private orderIndex(num: number): number {
    const i = partitionPoint(this.order, (v) => v.num < num);
    if (this.order[i]?.num !== num) throw new Error(`sandbox store: record ${num} missing from its index`);
    return i;
  }

  /** Moves writes older than `delayMs` into the search index (search lags behind writes, as in HubSpot). */
  drain(now: number, delayMs: number): void {
    while (this.pendingHead < this.pending.length) {
      const entry = this.pending[this.pendingHead]!;
      if (entry.changedAt + delayMs > now) break;
      this.index(entry.version);
      this.pendingHead++;
    }
    if (this.pendingHead > 1024 && this.pendingHead * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.pendingHead);
      this.pendingHead = 0;
    }
  }

  private index(version: RecordVersion): void {
    const old = this.indexed.get(version.id);
    if (old) {
      const at = partitionPoint(this.indexByMod, (v) => byModKey(v, old) < 0);
      if (this.indexByMod[at] === old) this.indexByMod.splice(at, 1);
      const n = partitionPoint(this.indexByNum, (v) => v.num < old.num);
      if (version.archived) this.indexByNum.splice(n, 1);
      else this.indexByNum[n] = version;
    } else if (!version.archived) {
      const n = partitionPoint(this.indexByNum, (v) => v.num < version.num);
      this.indexByNum.splice(n, 0, version);
    }
    if (version.archived) {
      this.indexed.delete(version.id);
      return;
    }
    this.indexed.set(version.id, version);
    const at = partitionPoint(this.indexByMod, (v) => byModKey(v, version) < 0);
    this.indexByMod.splice(at, 0, version);
  }

  /** Bulk load for seeding: versions in ascending id order, all visible to search at once. */
  load(versions: RecordVersion[]): void {
    for (const v of versions) {
      this.byId.set(v.id, v);
      this.order.push(v);
      this.indexed.set(v.id, v);
      this.indexByNum.push(v);
      this.indexByMod.push(v);
      for (const [prop, map] of this.unique) {
        const value = v.properties[prop];
        if (value !== undefined) map.set(value.toLowerCase(), v.id);
      }
    }
    this.order.sort((a, b) => a.num - b.num);
    this.indexByNum.sort((a, b) => a.num - b.num);
    this.indexByMod.sort(byModKey);
  }

  count(archived = false): number {
    let n = 0;
    for (const v of this.order) if (v.archived === archived) n++;
    return n;
  }
}

const DAY = 86_400_000;
const FIRST = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Margaret', 'Ken', 'Frances', 'John'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Hamilton', 'Thompson', 'Allen', 'Backus'];
const INDUSTRIES = ['COMPUTER_SOFTWARE', 'RETAIL', 'FINANCIAL_SERVICES', 'HOSPITALITY', 'EDUCATION'];
const STAGES = ['appointmentscheduled', 'qualifiedtobuy', 'presentationscheduled', 'closedwon', 'closedlost'];

export interface StoreOptions {
  records?: Partial<Record<HubSpotObjectType, number>>;
  seed?: number;
  /** Creation time of the first seeded record. Default: 2024-01-01T00:00:00Z. */
  seedEpoch?: number;
  customProperties?: Partial<Record<HubSpotObjectType, Record<string, PropertyDefinition>>>;
}

/**
 * A change to a record, as HubSpot's webhook subscriptions name them: `creation`, `propertyChange` (with the
 * properties whose value changed), `deletion` (archived) and `restore`.
 */
export interface RecordChange {
  type: HubSpotObjectType;
  change: 'creation' | 'propertyChange' | 'deletion' | 'restore';
  version: RecordVersion;
  /** propertyChange: the properties set to a new value (HubSpot's own last-modified properties left out). */
  properties?: string[];
  at: number;
}

/** All collections plus the id sequence. Ids are numeric strings from one sequence shared by all types. */
export class SandboxStore {
  readonly schemas: Record<HubSpotObjectType, ObjectSchema>;
  readonly collections: Record<HubSpotObjectType, ObjectCollection>;
  private nextNum = 1;
  private readonly listeners: ((change: RecordChange) => void)[] = [];

  /** Called for every create, update, archive and restore (seeded records aside). */
  onChange(listener: (change: RecordChange) => void): void {
    this.listeners.push(listener);
  }

  private emit(change: RecordChange): void {
    for (const listener of this.listeners) listener(change);
  }

  constructor(options: StoreOptions = {}) {
    this.schemas = buildSchemas(options.customProperties);
    this.collections = {
      contacts: new ObjectCollection(this.schemas.contacts),
      companies: new ObjectCollection(this.schemas.companies),
      deals: new ObjectCollection(this.schemas.deals),
    };
    const seed = options.seed ?? 42;
    const epoch = options.seedEpoch ?? Date.UTC(2024, 0, 1);
    HUBSPOT_OBJECT_TYPES.forEach((type, t) => {
      const n = options.records?.[type] ?? 0;
      if (n > 0) this.seed(type, n, createRng(seed * 31 + t), epoch);
    });
  }

  /** Seeds `count` records: one created a minute, each last modified up to 30 days later (seeded draw). */
  private seed(type: HubSpotObjectType, count: number, rng: () => number, epoch: number): void {
    const versions: RecordVersion[] = [];
    const lastMod = this.schemas[type].lastModifiedProperty;
    for (let i = 1; i <= count; i++) {
      const num = this.nextNum++;
      const createdAt = epoch + i * 60_000;
      const updatedAt = createdAt + Math.floor(rng() * 30 * DAY);
      const own: Record<string, string> =
        type === 'contacts'
          ? {
              email: `contact${i}@example.com`,
              firstname: FIRST[i % FIRST.length]!,
              lastname: LAST[(i * 7) % LAST.length]!,
            }
          : type === 'companies'
            ? { name: `Company ${i}`, domain: `company${i}.example.com`, industry: INDUSTRIES[i % INDUSTRIES.length]! }
            : {
                dealname: `Deal ${i}`,
                amount: String(100 + ((i * 37) % 1000) * 10),
                dealstage: STAGES[i % STAGES.length]!,
                pipeline: 'default',
                closedate: new Date(createdAt + 90 * DAY).toISOString(),
              };
      versions.push({
        id: String(num),
        num,
        properties: {
          ...own,
          hs_object_id: String(num),
          createdate: new Date(createdAt).toISOString(),
          [lastMod]: new Date(updatedAt).toISOString(),
        },
        createdAt,
        updatedAt,
        archived: false,
      });
    }
    this.collections[type].load(versions);
  }

  /** Creates a record from already validated values. */
  create(
    type: HubSpotObjectType,
    values: Record<string, string | null>,
    at: number,
    opts: { id?: string; createdAt?: number; indexNow?: boolean } = {},
  ): RecordVersion {
    let num: number;
    if (opts.id !== undefined) {
      num = Number(opts.id);
      if (!Number.isSafeInteger(num) || num <= 0 || String(num) !== opts.id) {
        throw new Error(`sandbox store: id must be a positive integer string, got "${opts.id}"`);
      }
      if (num >= this.nextNum) this.nextNum = num + 1;
    } else {
      num = this.nextNum++;
    }
    const createdAt = opts.createdAt ?? at;
    const props: Record<string, string> = {};
    for (const [k, v] of Object.entries(values)) if (v !== null) props[k] = v;
    props.hs_object_id = String(num);
    props.createdate = new Date(createdAt).toISOString();
    props[this.schemas[type].lastModifiedProperty] = new Date(at).toISOString();
    const version: RecordVersion = {
      id: String(num),
      num,
      properties: props,
      createdAt,
      updatedAt: at,
      archived: false,
    };
    this.collections[type].save(version, at, opts.indexNow);
    this.emit({ type, change: 'creation', version, at });
    return version;
  }

  /** Merges values into a record and bumps its last-modified time. */
  update(type: HubSpotObjectType, current: RecordVersion, values: Record<string, string | null>, at: number) {
    const props: Record<string, string> = { ...current.properties };
    for (const [k, v] of Object.entries(values)) {
      if (v === null) delete props[k];
      else props[k] = v;
    }
    const lastMod = this.schemas[type].lastModifiedProperty;
    props[lastMod] = new Date(at).toISOString();
    const version: RecordVersion = { ...current, properties: props, updatedAt: at };
    this.collections[type].save(version, at);
    if (this.listeners.length > 0) {
      const changed = Object.keys(values).filter(
        (k) => k !== lastMod && k !== 'hs_lastmodifieddate' && current.properties[k] !== props[k],
      );
      if (changed.length > 0) this.emit({ type, change: 'propertyChange', version, properties: changed, at });
    }
    return version;
  }

  archive(type: HubSpotObjectType, current: RecordVersion, at: number): RecordVersion {
    const version: RecordVersion = { ...current, archived: true, archivedAt: at, updatedAt: at };
    this.collections[type].save(version, at);
    this.emit({ type, change: 'deletion', version, at });
    return version;
  }

  /** Brings an archived record back (HubSpot restores archived records for 90 days), as last modified `at`. */
  restore(type: HubSpotObjectType, current: RecordVersion, at: number): RecordVersion {
    const { archivedAt: _, ...rest } = current;
    const properties = { ...current.properties, [this.schemas[type].lastModifiedProperty]: new Date(at).toISOString() };
    const version: RecordVersion = { ...rest, properties, archived: false, updatedAt: at };
    this.collections[type].save(version, at);
    this.emit({ type, change: 'restore', version, at });
    return version;
  }
}

/** Renders a version as HubSpot does, with `select` (null: the type's default properties). */
export function renderObject(
  schema: ObjectSchema,
  v: RecordVersion,
  select: readonly string[] | null,
  malformed = false,
): HubSpotObject | Record<string, unknown> {
  const names =
    select && select.length > 0 ? new Set([...select, ...schema.alwaysProperties]) : schema.defaultProperties;
  const properties: Record<string, string | null> = {};
  for (const name of names) {
    // Unknown property names are left out silently, as HubSpot does; known but unset ones come back null.
    if (schema.properties.has(name)) properties[name] = v.properties[name] ?? null;
  }
  const out: HubSpotObject = {
    id: v.id,
    properties,
    createdAt: new Date(v.createdAt).toISOString(),
    updatedAt: new Date(v.updatedAt).toISOString(),
    archived: v.archived,
  };
  if (v.archivedAt !== undefined) out.archivedAt = new Date(v.archivedAt).toISOString();
  // A broken shape for the malformed-record fault: a connector must reject it, not crash or store garbage.
  return malformed ? { ...out, properties: null } : out;
}

/** Every stored property (for the test store). */
export function fullObject(v: RecordVersion): HubSpotObject {
  const out: HubSpotObject = {
    id: v.id,
    properties: { ...v.properties },
    createdAt: new Date(v.createdAt).toISOString(),
    updatedAt: new Date(v.updatedAt).toISOString(),
    archived: v.archived,
  };
  if (v.archivedAt !== undefined) out.archivedAt = new Date(v.archivedAt).toISOString();
  return out;
}

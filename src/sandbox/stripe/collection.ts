/**
 * Objects kept in Stripe's list order. Ids sit in one array sorted by (created, id) ascending, with a Map from id
 * to position, so a list page is a binary search or a Map lookup plus a walk of `limit` entries: newest first means
 * walking the array from its end. New objects are usually the newest, so an insert is a push.
 */

export interface Sortable {
  id: string;
  created: number;
}

export class SortedCollection<T extends Sortable> {
  private readonly byId = new Map<string, T>();
  private readonly ids: string[] = [];
  private readonly times: number[] = [];
  private readonly positions = new Map<string, number>();
  /** Deleted ids with their `created`, so a deleted object still works as a list cursor. */
  private readonly tombstones = new Map<string, number>();

  get size(): number {
    return this.ids.length;
  }

  get(id: string): T | undefined {
    return this.byId.get(id);
  }

  isDeleted(id: string): boolean {
    return this.tombstones.has(id);
  }

  /** The object at an ascending position (0 = oldest). */
  at(position: number): T {
    return this.byId.get(this.ids[position]!)!;
  }

  insert(item: T): void {
    if (this.byId.has(item.id)) throw new Error(`duplicate id ${item.id}`);
    this.tombstones.delete(item.id);
    const at = this.lowerBound(item.created, item.id);
    this.byId.set(item.id, item);
    if (at === this.ids.length) {
      this.ids.push(item.id);
      this.times.push(item.created);
      this.positions.set(item.id, at);
      return;
    }
    this.ids.splice(at, 0, item.id);
    this.times.splice(at, 0, item.created);
    this.reindexFrom(at);
  }

  /** Replaces an object by one with the same id; it moves only if its `created` changed. */
  replace(item: T): void {
    const position = this.positions.get(item.id);
    if (position === undefined) throw new Error(`unknown id ${item.id}`);
    if (this.times[position] === item.created) {
      this.byId.set(item.id, item);
      return;
    }
    this.remove(item.id);
    this.insert(item);
  }

  remove(id: string): T | undefined {
    const item = this.byId.get(id);
    const position = this.positions.get(id);
    if (!item || position === undefined) return undefined;
    this.byId.delete(id);
    this.positions.delete(id);
    this.ids.splice(position, 1);
    this.times.splice(position, 1);
    this.reindexFrom(position);
    this.tombstones.set(id, this.timeOf(item));
    return item;
  }

  /**
   * Where a cursor sits: objects older than it are at positions `< olderEnd`, newer ones at `>= newerStart`.
   * Undefined for an id never seen.
   */
  cursor(id: string): { olderEnd: number; newerStart: number } | undefined {
    const position = this.positions.get(id);
    if (position !== undefined) return { olderEnd: position, newerStart: position + 1 };
    const created = this.tombstones.get(id);
    if (created === undefined) return undefined;
    const at = this.lowerBound(created, id);
    return { olderEnd: at, newerStart: at };
  }

  /** First position whose `created` is at least `created`. */
  firstAtOrAfter(created: number): number {
    let lo = 0;
    let hi = this.times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.times[mid]! < created) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Newest first. */
  *newestFirst(): Generator<T> {
    for (let i = this.ids.length - 1; i >= 0; i--) yield this.at(i);
  }

  private lowerBound(created: number, id: string): number {
    let lo = 0;
    let hi = this.ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const t = this.times[mid]!;
      if (t < created || (t === created && this.ids[mid]! < id)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private reindexFrom(start: number): void {
    for (let i = start; i < this.ids.length; i++) this.positions.set(this.ids[i]!, i);
  }

  private timeOf(item: T): number {
    return item.created;
  }
}

export interface CreatedRange {
  gt?: number;
  gte?: number;
  lt?: number;
  lte?: number;
}

export interface PageRequest<T> {
  limit: number;
  startingAfter?: string;
  endingBefore?: string;
  created?: CreatedRange;
  /** Objects earlier than this `created` do not exist for the list (event retention). */
  notBefore?: number;
  filter?: (item: T) => boolean;
}

/**
 * One page, newest first. `starting_after` → the objects just older than the cursor; `ending_before` → the objects
 * just newer than it (still newest first). `hasMore` says whether another matching object lies beyond the page in
 * the direction of travel. Cost: O(log n + limit) without a filter.
 */
export function listPage<T extends Sortable>(
  collection: SortedCollection<T>,
  request: PageRequest<T>,
  cursorPosition?: { olderEnd: number; newerStart: number },
): { data: T[]; hasMore: boolean } {
  const range = request.created ?? {};
  let lower = 0;
  let upper = collection.size; // exclusive
  const minCreated = Math.max(
    request.notBefore ?? Number.NEGATIVE_INFINITY,
    range.gte ?? Number.NEGATIVE_INFINITY,
    range.gt !== undefined ? range.gt + 1 : Number.NEGATIVE_INFINITY,
  );
  const maxCreated = Math.min(
    range.lte ?? Number.POSITIVE_INFINITY,
    range.lt !== undefined ? range.lt - 1 : Number.POSITIVE_INFINITY,
  );
  if (minCreated > Number.NEGATIVE_INFINITY) lower = collection.firstAtOrAfter(minCreated);
  if (maxCreated < Number.POSITIVE_INFINITY) upper = collection.firstAtOrAfter(maxCreated + 1);
  const filter = request.filter;
  const data: T[] = [];
  if (request.endingBefore !== undefined && cursorPosition) {
    // Walk towards newer objects, then present them newest first.
    for (let i = Math.max(lower, cursorPosition.newerStart); i < upper; i++) {
      const item = collection.at(i);
      if (filter && !filter(item)) continue;
      if (data.length === request.limit) return { data: data.reverse(), hasMore: true };
      data.push(item);
    }
    return { data: data.reverse(), hasMore: false };
  }
  const start = request.startingAfter !== undefined && cursorPosition ? cursorPosition.olderEnd : upper;
  for (let i = Math.min(start, upper) - 1; i >= lower; i--) {
    const item = collection.at(i);
    if (filter && !filter(item)) continue;
    if (data.length === request.limit) return { data, hasMore: true };
    data.push(item);
  }
  return { data, hasMore: false };
}

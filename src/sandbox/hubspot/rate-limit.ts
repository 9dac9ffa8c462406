/**
 * Rolling-window request counters per access token, on an injectable clock. HubSpot limits private apps
 * per rolling 10 seconds (policy TEN_SECONDLY_ROLLING), per day (DAILY), and the search endpoints per
 * second (SECONDLY, message "You have reached your secondly limit.").
 */
export class RollingWindow {
  private readonly hits = new Map<string, { times: number[]; head: number }>();

  constructor(
    private readonly max: () => number,
    private readonly intervalMs: () => number,
  ) {}

  /** Requests counted in the window ending at `now`. */
  count(key: string, now: number): number {
    const entry = this.hits.get(key);
    if (!entry) return 0;
    const from = now - this.intervalMs();
    while (entry.head < entry.times.length && entry.times[entry.head]! <= from) entry.head++;
    if (entry.head > 256 && entry.head * 2 > entry.times.length) {
      entry.times = entry.times.slice(entry.head);
      entry.head = 0;
    }
    return entry.times.length - entry.head;
  }

  /** Counts a request if the window has room. `retryAfterMs`: until the oldest counted request leaves it. */
  take(key: string, now: number): { ok: boolean; remaining: number; retryAfterMs: number } {
    const used = this.count(key, now);
    const max = this.max();
    if (used >= max) {
      const entry = this.hits.get(key)!;
      const oldest = entry.times[entry.head] ?? now;
      return { ok: false, remaining: 0, retryAfterMs: Math.max(1, oldest + this.intervalMs() - now) };
    }
    let entry = this.hits.get(key);
    if (!entry) {
      entry = { times: [], head: 0 };
      this.hits.set(key, entry);
    }
    entry.times.push(now);
    return { ok: true, remaining: max - used - 1, retryAfterMs: 0 };
  }
}

/** A per-day counter (days in UTC on the injected clock). */
export class DailyCounter {
  private readonly counts = new Map<string, { day: number; n: number }>();

  constructor(private readonly max: () => number) {}

  take(key: string, now: number): { ok: boolean; remaining: number } {
    const day = Math.floor(now / 86_400_000);
    let entry = this.counts.get(key);
    if (!entry || entry.day !== day) {
      entry = { day, n: 0 };
      this.counts.set(key, entry);
    }
    if (entry.n >= this.max()) return { ok: false, remaining: 0 };
    entry.n++;
    return { ok: true, remaining: this.max() - entry.n };
  }

  remaining(key: string, now: number): number {
    const entry = this.counts.get(key);
    const day = Math.floor(now / 86_400_000);
    return !entry || entry.day !== day ? this.max() : Math.max(0, this.max() - entry.n);
  }
}

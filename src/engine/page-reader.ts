import type { ReadPage } from './endpoint.ts';

/**
 * Reads a source stream ahead of the run: one page at a time (each page's cursor comes from the one before),
 * into a buffer of at most `maxBuffered` records, while the run writes what it took before. An error is
 * reported after the pages read before it have been taken.
 */
export class PageReader {
  private readonly buffer: ReadPage[] = [];
  private buffered = 0;
  private finished = false;
  private failed = false;
  private error: unknown;
  private stopped = false;
  private wakeTaker: (() => void) | null = null;
  private wakeReader: (() => void) | null = null;

  constructor(
    private readonly read: (cursor: string | null) => Promise<ReadPage>,
    cursor: string | null,
    private readonly maxBuffered: number,
    /** Work on each page as it arrives (before it is taken). */
    private readonly prepare: ((page: ReadPage) => void) | null = null,
  ) {
    void this.pump(cursor);
  }

  private async pump(start: string | null): Promise<void> {
    let cursor = start;
    while (!this.stopped) {
      if (this.buffered >= this.maxBuffered) {
        await new Promise<void>((resolve) => {
          this.wakeReader = resolve;
        });
        continue;
      }
      let page: ReadPage;
      try {
        page = await this.read(cursor);
      } catch (err) {
        this.failed = true;
        this.error = err;
        this.wake();
        return;
      }
      this.prepare?.(page);
      this.buffer.push(page);
      this.buffered += page.records.length;
      if (page.nextCursor === null) this.finished = true;
      this.wake();
      if (this.finished) return;
      cursor = page.nextCursor;
      // A source that answers from memory never waits for I/O: let the run's database answers in between, so
      // that the next commit is sent as soon as the previous one is done, not after the buffer is full.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private wake(): void {
    const wake = this.wakeTaker;
    this.wakeTaker = null;
    wake?.();
  }

  /**
   * The pages read so far, whole, up to `records` records (at least one page); waits only while none has
   * been read. A page never waits for later pages: when the source is slower than the writes, commits hold
   * what arrived meanwhile, and a stalled source leaves nothing read uncommitted.
   */
  async take(records: number): Promise<ReadPage[]> {
    for (;;) {
      if (this.buffer.length > 0) {
        let n = this.buffer[0]!.records.length;
        let count = 1;
        while (count < this.buffer.length && n + this.buffer[count]!.records.length <= records) {
          n += this.buffer[count++]!.records.length;
        }
        const pages = this.buffer.splice(0, count);
        this.buffered -= n;
        const wake = this.wakeReader;
        this.wakeReader = null;
        wake?.();
        return pages;
      }
      if (this.failed) throw this.error;
      await new Promise<void>((resolve) => {
        this.wakeTaker = resolve;
      });
    }
  }

  stop(): void {
    this.stopped = true;
    const wake = this.wakeReader;
    this.wakeReader = null;
    wake?.();
  }
}

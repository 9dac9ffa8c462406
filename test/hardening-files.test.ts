import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryProvider } from '../src/connectors/memory.ts';
import { createSyncEngine } from '../src/sync-engine.ts';

/**
 * Hardening, "Files": a PGlite data directory holds the database and (by default) the credential key. Under the
 * usual umask 022 it must still be private: the directory 0700, nothing inside readable or writable by others.
 */

const mode = (path: string) => statSync(path).mode & 0o777;

/** Every path under `dir` whose mode lets the group or others in, with its mode in octal. */
function openToOthers(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (mode(p) & 0o077) found.push(`${p.slice(dir.length)} ${mode(p).toString(8)}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return found;
}

describe('the PGlite data directory', () => {
  let parent: string;
  let umask: number;
  let envKey: string | undefined;
  beforeEach(() => {
    parent = mkdtempSync(join(tmpdir(), 'otesse-files-'));
    umask = process.umask(0o022);
    envKey = process.env.OTESSE_SYNC_ENCRYPTION_KEY;
    delete process.env.OTESSE_SYNC_ENCRYPTION_KEY;
  });
  afterEach(() => {
    process.umask(umask);
    if (envKey !== undefined) process.env.OTESSE_SYNC_ENCRYPTION_KEY = envKey;
    rmSync(parent, { recursive: true, force: true });
  });

  it('is created 0700 under umask 022, and nothing inside is open to the group or others', async () => {
    const dir = join(parent, 'data');
    const engine = await createSyncEngine({ database: dir, providers: [createMemoryProvider().definition] });
    try {
      await engine.connections.create({ name: 'c', provider: 'memory', credentials: { apiKey: 'sk_test_x' } });
      expect(mode(dir).toString(8)).toBe('700');
      expect(mode(join(dir, 'encryption.key')).toString(8)).toBe('600');
      expect(openToOthers(dir)).toEqual([]);
    } finally {
      await engine.close();
    }
    expect(mode(dir).toString(8)).toBe('700');
    expect(openToOthers(dir)).toEqual([]);
  });

  it('an existing data directory with open modes is made private when opened', async () => {
    const dir = join(parent, 'data');
    const first = await createSyncEngine({ database: dir });
    await first.close();
    const { chmodSync } = await import('node:fs');
    chmodSync(dir, 0o755);
    chmodSync(join(dir, 'PG_VERSION'), 0o666);
    const again = await createSyncEngine({ database: dir });
    await again.close();
    expect(mode(dir).toString(8)).toBe('700');
    expect(openToOthers(dir)).toEqual([]);
  });
});

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../src/domain/errors.ts';
import { type Database, openDatabase } from '../src/store/database.ts';
import { DEFAULT_PGLITE_SETTINGS, PGLITE_SETTINGS_ENV, resolvePgliteSettings } from '../src/store/pglite-start.ts';

/**
 * The PostgreSQL settings an embedded PGlite starts with (`pgliteSettings`, `OTESSE_SYNC_PGLITE_SETTINGS`, the
 * defaults): what PGlite reports back with SHOW, and the errors that name a bad one. The footprint they buy is
 * measured by `npm run bench:footprint`, not here.
 */
async function show(database: Database, name: string): Promise<string> {
  const result = await database.pglite!.query<Record<string, string>>(`SHOW ${name}`);
  return result.rows[0]![name]!;
}

async function validationIssues(promise: Promise<unknown>): Promise<{ path: string; message: string }[]> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ValidationError);
  return (err as ValidationError).issues;
}

describe('PGlite settings', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('starts an in-memory PGlite with the default shared_buffers, and with the settings it is given', async () => {
    const byDefault = await openDatabase({ database: 'memory://' });
    try {
      expect(await show(byDefault, 'shared_buffers')).toBe(DEFAULT_PGLITE_SETTINGS.shared_buffers);
    } finally {
      await byDefault.close();
    }
    const tuned = await openDatabase({
      database: 'memory://',
      pgliteSettings: { shared_buffers: '24MB', work_mem: 8192 },
    });
    try {
      expect(await show(tuned, 'shared_buffers')).toBe('24MB');
      expect(await show(tuned, 'work_mem')).toBe('8MB');
    } finally {
      await tuned.close();
    }
  }, 180_000);

  it('creates a new data directory, keeps its data across a reopen, and applies the settings each time', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'otesse-pglite-settings-'));
    dirs.push(dir);
    const data = join(dir, 'data');
    const first = await openDatabase({ database: data, schema: 'settings_test' });
    try {
      expect(existsSync(join(data, 'PG_VERSION'))).toBe(true);
      expect(await show(first, 'shared_buffers')).toBe('16MB');
      await first.exec('CREATE TABLE kept (n int); INSERT INTO kept VALUES (42);');
    } finally {
      await first.close();
    }
    const again = await openDatabase({
      database: data,
      schema: 'settings_test',
      pgliteSettings: { shared_buffers: '32MB' },
    });
    try {
      expect(await show(again, 'shared_buffers')).toBe('32MB');
      const { rows } = await again.pglite!.query<{ n: number }>('SELECT n FROM kept');
      expect(rows).toEqual([{ n: 42 }]);
    } finally {
      await again.close();
    }
  }, 180_000);

  it('reads OTESSE_SYNC_PGLITE_SETTINGS when no option is given, the option winning over it', () => {
    expect(resolvePgliteSettings(undefined, 'shared_buffers=48MB, work_mem=16MB')).toEqual({
      settings: { shared_buffers: '48MB', work_mem: '16MB' },
      source: PGLITE_SETTINGS_ENV,
    });
    expect(resolvePgliteSettings(undefined, 'temp_buffers=4MB').settings).toEqual({
      shared_buffers: '16MB',
      temp_buffers: '4MB',
    });
    expect(resolvePgliteSettings({ shared_buffers: '8MB' }, 'shared_buffers=48MB').settings).toEqual({
      shared_buffers: '8MB',
    });
  });

  it('names the field of a malformed setting before starting anything', async () => {
    expect(() => resolvePgliteSettings(undefined, 'shared_buffers')).toThrow(
      `${PGLITE_SETTINGS_ENV}: expected name=value, got "shared_buffers"`,
    );
    expect(
      await validationIssues(
        openDatabase({ database: 'memory://', pgliteSettings: { 'shared_buffers; DROP': '1MB', work_mem: 'a\nb' } }),
      ),
    ).toEqual([
      { path: 'pgliteSettings.shared_buffers; DROP', message: 'is not a PostgreSQL setting name' },
      { path: 'pgliteSettings.work_mem', message: 'must be a string or a finite number (one line)' },
    ]);
  });

  it('names the setting PostgreSQL refuses at start', async () => {
    const issues = await validationIssues(
      openDatabase({ database: 'memory://', pgliteSettings: { shared_buffers: 'lots' } }),
    );
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toBe('pgliteSettings.shared_buffers');
    expect(issues[0]!.message).toContain('invalid value for parameter "shared_buffers"');
  });
});

import { describe, expect, it } from 'vitest';
import { ValidationError } from '../domain/errors.ts';
import { decodeCursor } from './paging.ts';

const issuesOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ValidationError) return err.issues;
    throw err;
  }
  throw new Error('expected a ValidationError');
};

describe('decodeCursor checks values as the database reads them', () => {
  const cursor = (at: string, id: string) => Buffer.from(JSON.stringify([at, id])).toString('base64url');
  const uuid = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';

  it('accepts what PostgreSQL prints, of the expected kind', () => {
    for (const at of [
      '2024-02-29 23:59:59.123456+00',
      '2024-01-01 00:00:00+05:30',
      '2024-01-01T10:00:00Z',
      '1999-12-31 23:59:59',
    ]) {
      expect(decodeCursor(cursor(at, uuid), 'time')).toEqual({ at, id: uuid });
    }
    expect(decodeCursor(cursor('', '9223372036854775807'), 'serial')).toEqual({ at: '', id: '9223372036854775807' });
    expect(decodeCursor('', 'time')).toBeNull();
  });

  it('refuses impossible dates, offsets, ids past bigint and cursors of the other kind', () => {
    for (const [at, id, kind] of [
      ['2024-13-45 99:99:99', uuid, 'time'],
      ['2023-02-29 10:00:00', uuid, 'time'],
      ['2024-01-01 24:00:00', uuid, 'time'],
      ['2024-01-01 10:00:00+16', uuid, 'time'],
      ['0000-01-01 10:00:00', uuid, 'time'],
      ['2024-01-01 10:00:00.1234567', uuid, 'time'],
      ['', '9223372036854775808', 'serial'],
      ['', '99999999999999999999999', 'serial'],
      ['', '12', 'time'],
      ['2024-01-01 10:00:00', uuid, 'serial'],
    ] as const) {
      expect(
        issuesOf(() => decodeCursor(cursor(at, id), kind)),
        `${at} ${id}`,
      ).toEqual([{ path: 'cursor', message: 'is not a cursor returned by this API' }]);
    }
  });
});

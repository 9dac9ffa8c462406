import { describe, expect, it } from 'vitest';
import {
  applyTransform,
  compileTransform,
  dotPathSchema,
  getSegments,
  isTransformName,
  TRANSFORM_NAMES,
  TransformError,
  transformSpecSchema,
} from './transforms.ts';
import type { TransformSpec } from './types.ts';

const t = (name: string, value: unknown, args?: Record<string, unknown>, record: Record<string, unknown> = {}) =>
  applyTransform(args === undefined ? { name } : { name, args }, value, record);

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

function issuesOf(spec: unknown): Array<{ path: string; message: string }> {
  const result = transformSpecSchema.safeParse(spec);
  if (result.success) return [];
  return result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

describe('registry', () => {
  it('lists the 13 transforms', () => {
    expect(TRANSFORM_NAMES).toEqual([
      'trim',
      'lowercase',
      'uppercase',
      'to_number',
      'to_string',
      'to_boolean',
      'cents_to_decimal',
      'decimal_to_cents',
      'unix_to_iso',
      'iso_to_unix',
      'map_values',
      'concat',
      'template',
    ]);
    for (const name of TRANSFORM_NAMES) expect(isTransformName(name)).toBe(true);
    expect(isTransformName('toString')).toBe(false);
    expect(isTransformName('nope')).toBe(false);
  });

  it('passes null and undefined through as null for every single-value transform', () => {
    const single = TRANSFORM_NAMES.filter((n) => n !== 'concat' && n !== 'template' && n !== 'map_values');
    for (const name of single) {
      expect(t(name, null)).toBeNull();
      expect(t(name, undefined)).toBeNull();
    }
    expect(t('map_values', null, { values: { a: 'b' }, default: 'x' })).toBeNull();
    expect(t('map_values', undefined, { values: { a: 'b' } })).toBeNull();
  });
});

describe('string transforms', () => {
  it('trim, lowercase, uppercase', () => {
    expect(t('trim', '  a b \n')).toBe('a b');
    expect(t('lowercase', 'AbC É')).toBe('abc é');
    expect(t('uppercase', 'abc é')).toBe('ABC É');
  });

  it('refuse non-strings', () => {
    const err = thrown(() => t('trim', 42));
    expect(err).toBeInstanceOf(TransformError);
    expect((err as TransformError).transform).toBe('trim');
    expect((err as TransformError).message).toBe('trim: cannot convert number 42: expected a string');
    expect(() => t('lowercase', { a: 1 })).toThrow(TransformError);
    expect(() => t('uppercase', ['a'])).toThrow(/uppercase: cannot convert an array/);
  });
});

describe('to_number', () => {
  it('converts numbers, numeric strings and booleans', () => {
    expect(t('to_number', 12.5)).toBe(12.5);
    expect(t('to_number', ' 42 ')).toBe(42);
    expect(t('to_number', '-1.5e2')).toBe(-150);
    expect(t('to_number', true)).toBe(1);
    expect(t('to_number', false)).toBe(0);
  });

  it('throws on what is not a number', () => {
    const err = thrown(() => t('to_number', 'abc'));
    expect(err).toBeInstanceOf(TransformError);
    expect((err as TransformError).transform).toBe('to_number');
    expect((err as Error).message).toBe(
      'to_number: cannot convert the string "abc": expected a finite number or numeric string',
    );
    expect(() => t('to_number', '')).toThrow(TransformError);
    expect(() => t('to_number', '   ')).toThrow(TransformError);
    expect(() => t('to_number', Number.NaN)).toThrow(TransformError);
    expect(() => t('to_number', Number.POSITIVE_INFINITY)).toThrow(TransformError);
    expect(() => t('to_number', 'Infinity')).toThrow(TransformError);
    expect(() => t('to_number', {})).toThrow(TransformError);
  });
});

describe('to_string', () => {
  it('converts scalars, dates and objects', () => {
    expect(t('to_string', 'x')).toBe('x');
    expect(t('to_string', 42)).toBe('42');
    expect(t('to_string', false)).toBe('false');
    expect(t('to_string', 10n)).toBe('10');
    expect(t('to_string', new Date('2024-01-02T03:04:05.000Z'))).toBe('2024-01-02T03:04:05.000Z');
    expect(t('to_string', { a: [1, 'b'] })).toBe('{"a":[1,"b"]}');
  });
});

describe('to_boolean', () => {
  it('accepts booleans, 0/1 and words in any case', () => {
    expect(t('to_boolean', true)).toBe(true);
    expect(t('to_boolean', false)).toBe(false);
    expect(t('to_boolean', 1)).toBe(true);
    expect(t('to_boolean', 0)).toBe(false);
    expect(t('to_boolean', 'TRUE')).toBe(true);
    expect(t('to_boolean', 'False')).toBe(false);
    expect(t('to_boolean', '1')).toBe(true);
    expect(t('to_boolean', '0')).toBe(false);
    expect(t('to_boolean', ' Yes ')).toBe(true);
    expect(t('to_boolean', 'NO')).toBe(false);
  });

  it('throws on anything else', () => {
    for (const v of [2, -1, 0.5, 'maybe', '', 'y', {}, []]) {
      expect(() => t('to_boolean', v)).toThrow(TransformError);
    }
    expect(() => t('to_boolean', 'maybe')).toThrow('to_boolean: cannot convert the string "maybe"');
  });
});

describe('money', () => {
  it('cents_to_decimal', () => {
    expect(t('cents_to_decimal', 1999)).toBe(19.99);
    expect(t('cents_to_decimal', 5)).toBe(0.05);
    expect(t('cents_to_decimal', -250)).toBe(-2.5);
    expect(t('cents_to_decimal', 0)).toBe(0);
    expect(Object.is(t('cents_to_decimal', -0), 0)).toBe(true);
    expect(t('cents_to_decimal', '1999')).toBe(19.99);
    expect(() => t('cents_to_decimal', 19.5)).toThrow(TransformError);
    expect(() => t('cents_to_decimal', 'abc')).toThrow(TransformError);
    expect(() => t('cents_to_decimal', true)).toThrow(TransformError);
  });

  it('decimal_to_cents rounds half away from zero and accepts numeric strings', () => {
    expect(t('decimal_to_cents', 19.99)).toBe(1999);
    expect(t('decimal_to_cents', 0.07)).toBe(7);
    expect(t('decimal_to_cents', 1.005)).toBe(101);
    expect(t('decimal_to_cents', 1.015)).toBe(102);
    expect(t('decimal_to_cents', -1.005)).toBe(-101);
    expect(t('decimal_to_cents', 0.125)).toBe(13);
    expect(t('decimal_to_cents', -0.125)).toBe(-13);
    expect(t('decimal_to_cents', 0.124)).toBe(12);
    expect(t('decimal_to_cents', '19.99')).toBe(1999);
    expect(t('decimal_to_cents', ' 12 ')).toBe(1200);
    expect(t('decimal_to_cents', 1234567.89)).toBe(123456789);
    expect(Object.is(t('decimal_to_cents', -0.001), 0)).toBe(true);
  });

  it('decimal_to_cents throws on non-numbers', () => {
    const err = thrown(() => t('decimal_to_cents', '$19.99'));
    expect(err).toBeInstanceOf(TransformError);
    expect((err as TransformError).transform).toBe('decimal_to_cents');
    expect(() => t('decimal_to_cents', {})).toThrow(TransformError);
    expect(() => t('decimal_to_cents', true)).toThrow(TransformError);
    expect(() => t('decimal_to_cents', Number.NaN)).toThrow(TransformError);
    expect(() => t('decimal_to_cents', 1e300)).toThrow(TransformError);
  });
});

describe('dates', () => {
  it('unix_to_iso', () => {
    expect(t('unix_to_iso', 0)).toBe('1970-01-01T00:00:00.000Z');
    expect(t('unix_to_iso', 1_700_000_000)).toBe('2023-11-14T22:13:20.000Z');
    expect(t('unix_to_iso', 1.5)).toBe('1970-01-01T00:00:01.500Z');
    expect(t('unix_to_iso', -86_400)).toBe('1969-12-31T00:00:00.000Z');
  });

  it('unix_to_iso throws on non-numbers and out-of-range values', () => {
    const err = thrown(() => t('unix_to_iso', '1700000000'));
    expect(err).toBeInstanceOf(TransformError);
    expect((err as TransformError).transform).toBe('unix_to_iso');
    expect(() => t('unix_to_iso', 'yesterday')).toThrow(TransformError);
    expect(() => t('unix_to_iso', Number.NaN)).toThrow(TransformError);
    expect(() => t('unix_to_iso', 1e20)).toThrow(TransformError);
  });

  it('iso_to_unix', () => {
    expect(t('iso_to_unix', '2023-11-14T22:13:20.000Z')).toBe(1_700_000_000);
    expect(t('iso_to_unix', '2023-11-14T22:13:20.999Z')).toBe(1_700_000_000);
    expect(t('iso_to_unix', '2023-11-15T00:13:20+02:00')).toBe(1_700_000_000);
    expect(t('iso_to_unix', '1970-01-01')).toBe(0);
    expect(t('iso_to_unix', '1969-12-31T23:59:59.500Z')).toBe(-1);
    expect(t('iso_to_unix', new Date('2023-11-14T22:13:20Z'))).toBe(1_700_000_000);
  });

  it('iso_to_unix throws on unparsable dates', () => {
    const err = thrown(() => t('iso_to_unix', 'not a date'));
    expect(err).toBeInstanceOf(TransformError);
    expect((err as TransformError).transform).toBe('iso_to_unix');
    expect((err as Error).message).toBe(
      'iso_to_unix: cannot convert the string "not a date": expected an ISO 8601 date string',
    );
    expect(() => t('iso_to_unix', 1_700_000_000)).toThrow(TransformError);
    expect(() => t('iso_to_unix', new Date(Number.NaN))).toThrow(TransformError);
  });
});

describe('map_values', () => {
  const values = { a: 'Active', '1': true, x: { nested: [1] } };

  it('looks up String(value)', () => {
    expect(t('map_values', 'a', { values })).toBe('Active');
    expect(t('map_values', 1, { values })).toBe(true);
    expect(t('map_values', 'x', { values })).toEqual({ nested: [1] });
  });

  it('falls back to the default, else the value unchanged', () => {
    expect(t('map_values', 'zzz', { values, default: 'Other' })).toBe('Other');
    expect(t('map_values', 'zzz', { values, default: null })).toBeNull();
    expect(t('map_values', 'zzz', { values })).toBe('zzz');
    expect(t('map_values', 7, { values })).toBe(7);
  });

  it('ignores inherited keys', () => {
    expect(t('map_values', 'toString', { values })).toBe('toString');
    expect(t('map_values', 'constructor', { values, default: 'd' })).toBe('d');
  });

  it('returns a fresh copy of object results', () => {
    const fn = compileTransform({ name: 'map_values', args: { values } });
    const first = fn('x', {}) as { nested: number[] };
    first.nested.push(2);
    expect(fn('x', {})).toEqual({ nested: [1] });
  });
});

describe('concat', () => {
  const record = { first: 'Ada', last: 'Lovelace', middle: null, n: 3, address: { city: 'London', zip: 'N1' } };

  it('joins fields with a space by default, skipping null/undefined', () => {
    expect(t('concat', null, { fields: ['first', 'middle', 'missing', 'last'] }, record)).toBe('Ada Lovelace');
  });

  it('uses the separator and nested paths', () => {
    expect(t('concat', 'ignored', { fields: ['address.zip', 'address.city', 'n'], separator: ', ' }, record)).toBe(
      'N1, London, 3',
    );
    expect(t('concat', null, { fields: ['first', 'last'], separator: '' }, record)).toBe('AdaLovelace');
  });

  it('returns null when every field is missing', () => {
    expect(t('concat', null, { fields: ['middle', 'nope'] }, record)).toBeNull();
  });
});

describe('template', () => {
  const record = { first: 'Ada', n: 0, ok: false, address: { city: 'London' }, tags: ['a'] };

  it('replaces placeholders by path, empty for missing', () => {
    expect(t('template', null, { template: 'Hi {{first}} from {{address.city}}!' }, record)).toBe(
      'Hi Ada from London!',
    );
    expect(t('template', null, { template: '{{ first }}-{{missing}}-{{address.zip}}-{{n}}-{{ok}}' }, record)).toBe(
      'Ada---0-false',
    );
    expect(t('template', null, { template: '{{tags}}' }, record)).toBe('["a"]');
    expect(t('template', 'x', { template: 'constant' }, record)).toBe('constant');
  });

  it('does not read inherited properties', () => {
    expect(t('template', null, { template: '[{{toString}}]' }, record)).toBe('[]');
  });
});

describe('transformSpecSchema', () => {
  it('accepts valid specs', () => {
    const valid: TransformSpec[] = [
      { name: 'trim' },
      { name: 'trim', args: {} },
      { name: 'map_values', args: { values: { a: 1, b: { c: [null] } }, default: 'x' } },
      { name: 'concat', args: { fields: ['a', 'b.c-d_1'] } },
      { name: 'template', args: { template: 'x {{a.b}} y' } },
    ];
    for (const spec of valid) expect(issuesOf(spec)).toEqual([]);
  });

  it('refuses unknown transforms', () => {
    expect(issuesOf({ name: 'reverse' })).toEqual([
      { path: 'name', message: expect.stringContaining('Invalid option') },
    ]);
    expect(issuesOf({ name: 'toString' }).map((i) => i.path)).toEqual(['name']);
  });

  it('refuses args for transforms that take none', () => {
    expect(issuesOf({ name: 'trim', args: { x: 1 } })).toEqual([
      { path: 'args', message: 'this transform takes no args' },
    ]);
  });

  it('refuses unknown top-level keys', () => {
    expect(issuesOf({ name: 'trim', arg: {} }).map((i) => i.path)).toEqual(['']);
  });

  it('map_values requires args.values', () => {
    expect(issuesOf({ name: 'map_values' }).map((i) => i.path)).toEqual(['args']);
    expect(issuesOf({ name: 'map_values', args: {} }).map((i) => i.path)).toEqual(['args.values']);
    expect(issuesOf({ name: 'map_values', args: { values: ['a'] } }).map((i) => i.path)).toEqual(['args.values']);
    expect(issuesOf({ name: 'map_values', args: { values: { a: () => 1 } } }).map((i) => i.path)).toEqual([
      'args.values.a',
    ]);
    expect(issuesOf({ name: 'map_values', args: { values: {}, extra: 1 } }).map((i) => i.path)).toEqual(['args']);
  });

  it('concat requires non-empty args.fields of dot paths and a string separator', () => {
    expect(issuesOf({ name: 'concat', args: {} }).map((i) => i.path)).toEqual(['args.fields']);
    expect(issuesOf({ name: 'concat', args: { fields: [] } })).toEqual([
      { path: 'args.fields', message: 'must list at least one field' },
    ]);
    expect(issuesOf({ name: 'concat', args: { fields: ['a', 'b..c', 'ok', 'x y'] } }).map((i) => i.path)).toEqual([
      'args.fields.1',
      'args.fields.3',
    ]);
    expect(issuesOf({ name: 'concat', args: { fields: ['a.__proto__'] } })).toEqual([
      { path: 'args.fields.0', message: 'must not contain the segment "__proto__"' },
    ]);
    expect(issuesOf({ name: 'concat', args: { fields: ['a'], separator: 1 } }).map((i) => i.path)).toEqual([
      'args.separator',
    ]);
  });

  it('template requires a string args.template with valid placeholder paths', () => {
    expect(issuesOf({ name: 'template' }).map((i) => i.path)).toEqual(['args']);
    expect(issuesOf({ name: 'template', args: { template: 5 } }).map((i) => i.path)).toEqual(['args.template']);
    expect(issuesOf({ name: 'template', args: { template: 'x {{a b}}' } })).toEqual([
      { path: 'args.template', message: expect.stringContaining('placeholder {{a b}}') },
    ]);
    expect(issuesOf({ name: 'template', args: { template: '{{}}' } }).map((i) => i.path)).toEqual(['args.template']);
    expect(issuesOf({ name: 'template', args: { template: '{{constructor}}' } }).map((i) => i.path)).toEqual([
      'args.template',
    ]);
    expect(issuesOf({ name: 'template', args: { template: 'x {{a' } })).toEqual([
      { path: 'args.template', message: 'has an unclosed {{ placeholder' },
    ]);
  });

  it('compileTransform and applyTransform refuse invalid specs with a TransformError', () => {
    const err = thrown(() => compileTransform({ name: 'concat', args: { fields: [] } }));
    expect(err).toBeInstanceOf(TransformError);
    expect((err as TransformError).transform).toBe('concat');
    expect((err as Error).message).toBe('invalid transform spec: args.fields: must list at least one field');
    expect(() => applyTransform({ name: 'nope' }, 1, {})).toThrow(TransformError);
  });
});

describe('dot paths', () => {
  it('dotPathSchema', () => {
    for (const ok of ['a', 'a.b', 'A_1.b-2.0']) expect(dotPathSchema.safeParse(ok).success).toBe(true);
    for (const bad of ['', '.a', 'a.', 'a..b', 'a b', 'a/b', 'prototype', 'x.constructor', '__proto__.x']) {
      expect(dotPathSchema.safeParse(bad).success).toBe(false);
    }
  });

  it('getSegments reads own properties only', () => {
    const obj = { a: { b: [10, { c: 'x' }] }, s: 'str' };
    expect(getSegments(obj, ['a', 'b', '1', 'c'])).toBe('x');
    expect(getSegments(obj, ['a', 'b', '0'])).toBe(10);
    expect(getSegments(obj, ['a', 'nope', 'c'])).toBeUndefined();
    expect(getSegments(obj, ['s', 'length'])).toBeUndefined();
    expect(getSegments(obj, ['toString'])).toBeUndefined();
    expect(getSegments(obj, ['a', 'constructor'])).toBeUndefined();
    expect(getSegments(obj, [])).toBe(obj);
  });
});

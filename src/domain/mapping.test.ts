import { describe, expect, it } from 'vitest';
import { ValidationError } from './errors.ts';
import {
  applyMapping,
  compileMapping,
  fieldMappingRuleSchema,
  fieldMappingRulesSchema,
  getPath,
  MappingError,
  mappingTargetFields,
  setPath,
} from './mapping.ts';
import { TransformError } from './transforms.ts';
import type { FieldMappingRule } from './types.ts';

const inbound = (
  sourceField: string,
  targetField: string,
  extra: Partial<FieldMappingRule> = {},
): FieldMappingRule => ({ sourceField, targetField, direction: 'inbound', ...extra });

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

function issuesOf(rules: unknown): Array<{ path: string; message: string }> {
  const result = fieldMappingRulesSchema.safeParse(rules);
  if (result.success) return [];
  return result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

describe('getPath', () => {
  it('reads nested values and array indexes', () => {
    const obj = { a: { b: { c: 1 } }, list: [{ id: 'x' }], n: null };
    expect(getPath(obj, 'a.b.c')).toBe(1);
    expect(getPath(obj, 'a.b')).toEqual({ c: 1 });
    expect(getPath(obj, 'list.0.id')).toBe('x');
    expect(getPath(obj, 'n')).toBeNull();
  });

  it('returns undefined for missing steps, primitives and inherited properties', () => {
    const obj = { a: { b: 1 }, n: null, s: 'text' };
    expect(getPath(obj, 'a.x')).toBeUndefined();
    expect(getPath(obj, 'a.b.c')).toBeUndefined();
    expect(getPath(obj, 'n.x')).toBeUndefined();
    expect(getPath(obj, 's.length')).toBeUndefined();
    expect(getPath(obj, 'toString')).toBeUndefined();
    expect(getPath(obj, 'a.__proto__')).toBeUndefined();
    expect(getPath(obj, 'constructor.prototype')).toBeUndefined();
    expect(getPath(null, 'a')).toBeUndefined();
  });
});

describe('setPath', () => {
  it('sets top-level and nested values, creating objects on the way', () => {
    const obj: Record<string, unknown> = { keep: 1, a: { other: true } };
    setPath(obj, 'x', 'top');
    setPath(obj, 'a.b.c', 3);
    setPath(obj, 'n.m', null);
    expect(obj).toEqual({ keep: 1, x: 'top', a: { other: true, b: { c: 3 } }, n: { m: null } });
  });

  it('replaces a null intermediate with an object', () => {
    const obj: Record<string, unknown> = { a: null };
    setPath(obj, 'a.b', 1);
    expect(obj).toEqual({ a: { b: 1 } });
  });

  it('refuses to descend into a primitive', () => {
    const obj: Record<string, unknown> = { a: 'text' };
    expect(() => setPath(obj, 'a.b', 1)).toThrow('Cannot set path "a.b": "a" is a string');
    expect(obj).toEqual({ a: 'text' });
  });

  it('refuses prototype-polluting segments and empty segments', () => {
    for (const path of ['__proto__.polluted', 'a.__proto__.polluted', 'constructor.prototype.polluted', 'prototype']) {
      const obj: Record<string, unknown> = {};
      expect(() => setPath(obj, path, true)).toThrow(/is not allowed/);
      expect(obj).toEqual({});
    }
    expect(() => setPath({}, 'a..b', 1)).toThrow(/empty segment/);
    expect(() => setPath({}, '', 1)).toThrow(/empty segment/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('does not walk into inherited properties', () => {
    const obj: Record<string, unknown> = {};
    setPath(obj, 'toString.x', 1);
    expect(obj).toEqual({ toString: { x: 1 } });
  });
});

describe('fieldMappingRuleSchema', () => {
  it('accepts a full rule and its output is a FieldMappingRule', () => {
    const rule: FieldMappingRule = fieldMappingRuleSchema.parse({
      sourceField: 'address.city-name',
      targetField: 'city_1',
      transform: { name: 'trim' },
      defaultValue: { a: [1, null] },
      direction: 'outbound',
    });
    expect(rule).toEqual({
      sourceField: 'address.city-name',
      targetField: 'city_1',
      transform: { name: 'trim' },
      defaultValue: { a: [1, null] },
      direction: 'outbound',
    });
  });

  it('reports bad paths, transforms, defaults and directions by path', () => {
    const result = fieldMappingRuleSchema.safeParse({
      sourceField: 'a..b',
      targetField: '',
      transform: { name: 'map_values', args: {} },
      defaultValue: () => 1,
      direction: 'both',
    });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.')).sort()).toEqual([
      'defaultValue',
      'direction',
      'sourceField',
      'targetField',
      'transform.args.values',
    ]);
  });

  it('refuses prototype segments and unknown keys', () => {
    expect(fieldMappingRuleSchema.safeParse(inbound('a', '__proto__.x')).error?.issues).toEqual([
      expect.objectContaining({ path: ['targetField'], message: 'must not contain the segment "__proto__"' }),
    ]);
    expect(fieldMappingRuleSchema.safeParse(inbound('constructor', 'x')).success).toBe(false);
    expect(fieldMappingRuleSchema.safeParse({ ...inbound('a', 'b'), default: 1 }).success).toBe(false);
  });
});

describe('fieldMappingRulesSchema', () => {
  it('refuses two rules of the same direction writing the same targetField', () => {
    const issues = issuesOf([
      inbound('a', 'x'),
      inbound('b', 'y'),
      inbound('c', 'x'),
      { sourceField: 'd', targetField: 'x', direction: 'outbound' },
    ]);
    expect(issues).toEqual([
      { path: '2.targetField', message: 'duplicate inbound targetField "x" (also written by rule 0)' },
    ]);
  });

  it('refuses targets nested inside another target of the same direction', () => {
    expect(issuesOf([inbound('a', 'address'), inbound('b', 'address.city')])).toEqual([
      { path: '1.targetField', message: 'inbound targetField "address.city" overlaps "address" (rule 0)' },
    ]);
    expect(issuesOf([inbound('b', 'address.city'), inbound('a', 'address')]).map((i) => i.path)).toEqual([
      '1.targetField',
    ]);
  });

  it('accepts siblings and prefix-like names that are not nested', () => {
    expect(issuesOf([inbound('a', 'address.city'), inbound('b', 'address.zip'), inbound('c', 'addressLine')])).toEqual(
      [],
    );
  });
});

describe('compileMapping', () => {
  it('keeps only the rules of the direction and lists their targets', () => {
    const rules: FieldMappingRule[] = [
      inbound('a', 'x'),
      { sourceField: 'x', targetField: 'a', direction: 'outbound' },
      inbound('b.c', 'y.z'),
    ];
    expect(mappingTargetFields(compileMapping(rules, 'inbound'))).toEqual(['x', 'y.z']);
    expect(mappingTargetFields(compileMapping(rules, 'outbound'))).toEqual(['a']);
  });

  it('throws a ValidationError with issue paths into the rule array', () => {
    const err = thrown(() =>
      compileMapping(
        [
          inbound('a', 'x'),
          { sourceField: 'b', targetField: 'y', direction: 'outbound', transform: { name: 'concat', args: {} } },
          inbound('c', 'x'),
        ],
        'inbound',
      ),
    );
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).issues).toEqual([
      { path: '1.transform.args.fields', message: 'is required' },
      { path: '2.targetField', message: 'duplicate inbound targetField "x" (also written by rule 0)' },
    ]);
    expect((err as ValidationError).message).toBe(
      'Invalid input: 1.transform.args.fields: is required; ' +
        '2.targetField: duplicate inbound targetField "x" (also written by rule 0)',
    );
  });
});

describe('applyMapping', () => {
  it('maps flat and nested fields, applying transforms', () => {
    const mapping = compileMapping(
      [
        inbound('id', 'externalId', { transform: { name: 'to_string' } }),
        inbound('contact.email', 'email', { transform: { name: 'lowercase' } }),
        inbound('amount_cents', 'billing.amount', { transform: { name: 'cents_to_decimal' } }),
        inbound('status', 'billing.status', {
          transform: { name: 'map_values', args: { values: { '1': 'active', '0': 'inactive' }, default: 'unknown' } },
        }),
        inbound('created', 'createdAt', { transform: { name: 'unix_to_iso' } }),
      ],
      'inbound',
    );
    const source = { id: 42, contact: { email: 'ADA@Example.COM' }, amount_cents: 1999, status: 1, created: 0 };
    expect(applyMapping(mapping, source)).toEqual({
      externalId: '42',
      email: 'ada@example.com',
      billing: { amount: 19.99, status: 'active' },
      createdAt: '1970-01-01T00:00:00.000Z',
    });
    expect(source).toEqual({
      id: 42,
      contact: { email: 'ADA@Example.COM' },
      amount_cents: 1999,
      status: 1,
      created: 0,
    });
  });

  it('reads, transforms, then uses the default for null/missing values, as written (spec order)', () => {
    const mapping = compileMapping(
      [
        inbound('count', 'count', { defaultValue: 7, transform: { name: 'to_number' } }),
        inbound('missing.deep', 'flag', { defaultValue: true, transform: { name: 'to_boolean' } }),
        inbound('code', 'code', { defaultValue: 'N/A', transform: { name: 'lowercase' } }),
        inbound('balance', 'balance', { defaultValue: 12.5, transform: { name: 'cents_to_decimal' } }),
        inbound('present', 'present', { defaultValue: 'N/A', transform: { name: 'lowercase' } }),
        inbound('name', 'name', { defaultValue: 'anonymous' }),
        inbound('tags', 'tags', { defaultValue: [] }),
        inbound('zero', 'zero', { defaultValue: 5 }),
        inbound('empty', 'empty', { defaultValue: 'x' }),
        inbound('nullDefault', 'nullDefault', { defaultValue: null }),
      ],
      'inbound',
    );
    expect(
      applyMapping(mapping, {
        count: null,
        code: null,
        balance: null,
        present: 'ABC',
        name: undefined,
        zero: 0,
        empty: '',
      }),
    ).toEqual({
      count: 7,
      flag: true,
      // The default is not transformed: lowercase + default 'N/A' writes 'N/A', not 'n/a'.
      code: 'N/A',
      // cents_to_decimal + default 12.5 writes 12.5 (transformed, it would be 0.125; as a string it would fail).
      balance: 12.5,
      present: 'abc',
      name: 'anonymous',
      tags: [],
      zero: 0,
      empty: '',
      nullDefault: null,
    });
  });

  it('gives each record its own copy of object defaults', () => {
    const mapping = compileMapping([inbound('tags', 'tags', { defaultValue: ['a'] })], 'inbound');
    const first = applyMapping(mapping, {});
    (first.tags as string[]).push('mutated');
    expect(applyMapping(mapping, {})).toEqual({ tags: ['a'] });
  });

  it('writes null for every target with nothing, and skips single-value transforms on null', () => {
    const mapping = compileMapping(
      [
        inbound('a', 'a'),
        inbound('b', 'x.b', { transform: { name: 'to_number' } }),
        inbound('c', 'x.c', { transform: { name: 'map_values', args: { values: {}, default: 'd' } } }),
      ],
      'inbound',
    );
    expect(applyMapping(mapping, {})).toEqual({ a: null, x: { b: null, c: null } });
  });

  it('runs concat and template even when the source field is null', () => {
    const mapping = compileMapping(
      [
        inbound('fullName', 'name', { transform: { name: 'concat', args: { fields: ['first', 'last'] } } }),
        inbound('label', 'label', { transform: { name: 'template', args: { template: '{{last}}, {{first}}' } } }),
        inbound('none', 'none', { transform: { name: 'concat', args: { fields: ['nope'] } } }),
      ],
      'inbound',
    );
    expect(applyMapping(mapping, { first: 'Ada', last: 'Lovelace' })).toEqual({
      name: 'Ada Lovelace',
      label: 'Lovelace, Ada',
      none: null,
    });
  });

  it('passes records through unchanged (shallow copy) when there are no rules for the direction', () => {
    const mapping = compileMapping([{ sourceField: 'a', targetField: 'b', direction: 'outbound' }], 'inbound');
    const nested = { deep: 1 };
    const source = { a: 1, nested };
    const out = applyMapping(mapping, source);
    expect(out).toEqual({ a: 1, nested: { deep: 1 } });
    expect(out).not.toBe(source);
    expect(out.nested).toBe(nested);
    expect(applyMapping(compileMapping([], 'outbound'), { z: 2 })).toEqual({ z: 2 });
  });

  it('does not read inherited properties of the source', () => {
    const mapping = compileMapping([inbound('toString', 'out'), inbound('a.hasOwnProperty', 'out2')], 'inbound');
    expect(applyMapping(mapping, { a: {} })).toEqual({ out: null, out2: null });
  });

  it('throws a MappingError naming the target field and keeping the cause', () => {
    const mapping = compileMapping(
      [inbound('id', 'id'), inbound('details.price', 'price', { transform: { name: 'to_number' } })],
      'inbound',
    );
    const err = thrown(() => applyMapping(mapping, { id: 1, details: { price: 'abc' } }));
    expect(err).toBeInstanceOf(MappingError);
    const mappingError = err as MappingError;
    expect(mappingError.field).toBe('price');
    expect(mappingError.sourceField).toBe('details.price');
    expect(mappingError.code).toBe('mapping_failed');
    expect(mappingError.message).toBe(
      'Cannot map details.price → price: to_number: cannot convert the string "abc": expected a finite number or numeric string',
    );
    expect(mappingError.cause).toBeInstanceOf(TransformError);
    expect((mappingError.cause as TransformError).transform).toBe('to_number');
  });

  it('reuses one compiled mapping across many records', () => {
    const mapping = compileMapping(
      [
        inbound('id', 'id'),
        inbound('profile.name', 'name', { transform: { name: 'trim' } }),
        inbound('price', 'cents', { transform: { name: 'decimal_to_cents' } }),
      ],
      'inbound',
    );
    const out = [];
    for (let i = 0; i < 1000; i++)
      out.push(applyMapping(mapping, { id: i, profile: { name: ` n${i} ` }, price: i / 100 }));
    expect(out[0]).toEqual({ id: 0, name: 'n0', cents: 0 });
    expect(out[999]).toEqual({ id: 999, name: 'n999', cents: 999 });
    expect(out.every((r, i) => r.cents === i)).toBe(true);
  });
});

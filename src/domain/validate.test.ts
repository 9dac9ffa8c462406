import { describe, expect, it } from 'vitest';
import { ValidationError } from './errors.ts';
import { connectionInputSchema, syncJobInputSchema } from './job.ts';
import { inputProblems, jsonTooDeep, MAX_INPUT_DEPTH, parseInput } from './validate.ts';

const issuesOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ValidationError) return err.issues;
    throw err;
  }
  throw new Error('expected a ValidationError');
};

const nested = (depth: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
};

const job = (extra: Record<string, unknown> = {}) => ({
  connectionId: 'c1',
  name: 'Customers',
  entityType: 'customer',
  direction: 'inbound',
  ...extra,
});

describe('parseInput refuses what no schema or database can take', () => {
  it('refuses input nested deeper than MAX_INPUT_DEPTH before the schema recurses (no stack overflow)', () => {
    const deep = job({
      fieldMappings: [{ sourceField: 'a', targetField: 'a', direction: 'inbound', defaultValue: nested(1500) }],
    });
    const issues = issuesOf(() => parseInput(syncJobInputSchema, deep));
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toMatch(/^fieldMappings\.0\.defaultValue(\.0)+$/);
    expect(issues[0]!.message).toBe(`is nested more than ${MAX_INPUT_DEPTH} levels deep`);
    // The input itself is level 1: a default 20 levels deep is fine.
    const ok = job({
      fieldMappings: [{ sourceField: 'a', targetField: 'a', direction: 'inbound', defaultValue: nested(20) }],
    });
    expect(parseInput(syncJobInputSchema, ok).fieldMappings[0]!.defaultValue).toEqual(nested(20));
  });

  it('refuses NUL characters in any string or key, with the schema’s own issues', () => {
    expect(
      issuesOf(() =>
        parseInput(connectionInputSchema, {
          name: 'a\u0000',
          provider: 'memory',
          config: { ok: ['x', { deep: 'y\u0000' }], 'k\u0000': 1 },
          colour: 'red',
        }),
      ),
    ).toEqual([
      { path: 'name', message: 'must not contain the NUL character (\\u0000)' },
      { path: 'config.ok.1.deep', message: 'must not contain the NUL character (\\u0000)' },
      { path: 'config.k\\u0000', message: 'has a NUL character (\\u0000) or a lone surrogate in its name' },
      { path: 'colour', message: 'is not a recognized field' },
    ]);
    expect(
      issuesOf(() =>
        parseInput(connectionInputSchema, { name: 'x\ud800', provider: 'memory', config: { a: ['\udc00y'] } }),
      ),
    ).toEqual([
      { path: 'name', message: 'must be valid Unicode (it has a lone surrogate, \\ud800–\\udfff)' },
      { path: 'config.a.0', message: 'must be valid Unicode (it has a lone surrogate, \\ud800–\\udfff)' },
    ]);
    // Other control characters and non-BMP text (surrogate pairs) are fine.
    expect(parseInput(connectionInputSchema, { name: 'a\u0001 😀', provider: 'memory' }).name).toBe('a\u0001 😀');
  });

  it('walks objects without recursion and leaves values such as dates and buffers alone', () => {
    expect(inputProblems({ at: new Date(), data: Buffer.from([0]), list: new Set(['\u0000']) })).toEqual({
      issues: [],
      tooDeep: false,
    });
    expect(inputProblems(nested(200_000)).tooDeep).toBe(true);
  });

  it('jsonTooDeep counts brackets outside strings only', () => {
    expect(jsonTooDeep('[[1]]', 2)).toBe(false);
    expect(jsonTooDeep('[[[1]]]', 2)).toBe(true);
    expect(jsonTooDeep('{"a":"[[[[[[","b":{"c":[]}}', 3)).toBe(false);
    expect(jsonTooDeep('{"a":"\\"[[[[","b":[[[[]]]]}', 3)).toBe(true);
    expect(jsonTooDeep(`${'['.repeat(100_000)}${']'.repeat(100_000)}`)).toBe(true);
  });
});

describe('inputProblems', () => {
  it('finds deep nesting even after listing its fill of NUL characters', () => {
    const input = { many: Array.from({ length: 50 }, () => '\u0000'), deep: nested(100) };
    const found = inputProblems(input);
    expect(found.tooDeep).toBe(true);
    expect(issuesOf(() => parseInput(connectionInputSchema, input))[0]!.message).toMatch(/nested/);
  });
});

/**
 * Turning zod results into `ValidationError`s whose issues read well in an API response or a form:
 * every problem is listed, each with a dot path (`schedule.cron`, `fieldMappings.2.transform.args.values`)
 * and a short message that completes the sentence "<path> …" ("is required", "must be between 1 and 10").
 *
 * Messages come from, in order: a message set on the schema itself (schemas set one where the generic text
 * would be unclear, e.g. a range), then `humanMessage` below, which rewrites zod's defaults.
 */
import type { z } from 'zod';
import type { FieldIssue } from './errors.ts';
import { ValidationError } from './errors.ts';

type RawIssue = z.core.$ZodRawIssue;
type Issue = z.core.$ZodIssue;

/**
 * The deepest nesting of objects and arrays an input may have (the input itself is level 1). Validation
 * and storage walk values recursively: a 1,500-level `defaultValue` would overflow the stack. Real inputs
 * (a job with a mapping rule whose default is an object) stay under 10.
 */
export const MAX_INPUT_DEPTH = 32;

const NUL_MESSAGE = 'must not contain the NUL character (\\u0000)';
const SURROGATE_MESSAGE = 'must be valid Unicode (it has a lone surrogate, \\ud800–\\udfff)';
/** Half of a UTF-16 surrogate pair without its other half: no UTF-8 text (nor PostgreSQL's jsonb) can hold it. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/** Stop listing bad characters after this many: one is enough to fix the input. */
const MAX_SCAN_ISSUES = 20;

/** Objects that are values rather than containers of fields. */
function isOpaque(value: object): boolean {
  return (
    value instanceof Date ||
    value instanceof RegExp ||
    value instanceof Map ||
    value instanceof Set ||
    value instanceof ArrayBuffer ||
    ArrayBuffer.isView(value)
  );
}

/**
 * Problems no schema can accept, found without recursion: nesting deeper than `MAX_INPUT_DEPTH`, and NUL
 * characters or lone surrogates in strings or keys (PostgreSQL stores neither in jsonb, nor NUL in text). Walks arrays and objects
 * (a Buffer or a Date is a value).
 */
export function inputProblems(input: unknown, maxDepth = MAX_INPUT_DEPTH): { issues: FieldIssue[]; tooDeep: boolean } {
  const issues: FieldIssue[] = [];
  const stack: { value: unknown; path: PropertyKey[]; depth: number; nulKey?: true }[] = [
    { value: input, path: [], depth: 0 },
  ];
  // Walks everything (depth matters even after enough NULs were listed); lists at most MAX_SCAN_ISSUES.
  const report = (issue: FieldIssue) => {
    if (issues.length < MAX_SCAN_ISSUES) issues.push(issue);
  };
  while (stack.length > 0) {
    const { value, path, depth, nulKey } = stack.pop()!;
    if (nulKey) {
      report({ path: joinPath(path), message: 'has a NUL character (\\u0000) or a lone surrogate in its name' });
      continue;
    }
    if (typeof value === 'string') {
      if (value.includes('\u0000')) report({ path: joinPath(path), message: NUL_MESSAGE });
      else if (LONE_SURROGATE.test(value)) report({ path: joinPath(path), message: SURROGATE_MESSAGE });
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (isOpaque(value)) continue;
    const isArray = Array.isArray(value);
    if (depth + 1 > maxDepth) {
      return {
        issues: [{ path: joinPath(path), message: `is nested more than ${maxDepth} levels deep` }],
        tooDeep: true,
      };
    }
    const entries: [PropertyKey, unknown][] = isArray
      ? (value as unknown[]).map((v, i) => [i, v])
      : Object.entries(value as Record<string, unknown>);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, child] = entries[i]!;
      const nul = typeof key === 'string' && (key.includes('\u0000') || LONE_SURROGATE.test(key));
      stack.push({ value: child, path: [...path, key], depth: depth + 1, ...(nul ? { nulKey: true as const } : {}) });
    }
  }
  return { issues, tooDeep: false };
}

/**
 * Whether a JSON text nests objects and arrays deeper than `maxDepth`, found by counting brackets outside
 * strings, before anything parses it (parsers and prototype-poisoning scans recurse).
 */
export function jsonTooDeep(text: string, maxDepth = MAX_INPUT_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/**
 * Parses `input` with `schema`; on failure throws a `ValidationError` listing every issue. Input nested
 * deeper than `MAX_INPUT_DEPTH` is refused before the schema sees it; NUL characters and lone surrogates
 * anywhere are refused along with the schema's own issues.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const scanned = inputProblems(input);
  if (scanned.tooDeep) throw new ValidationError(scanned.issues);
  const result = schema.safeParse(input, { error: humanMessage });
  if (result.success && scanned.issues.length === 0) return result.data;
  const issues = [...scanned.issues];
  if (!result.success) {
    const flagged = new Set(issues.map((i) => i.path));
    for (const issue of toFieldIssues(result.error.issues)) if (!flagged.has(issue.path)) issues.push(issue);
  }
  throw new ValidationError(issues, result.success ? {} : { cause: result.error });
}

/**
 * Joins a zod path into a dot path: `['fieldMappings', 2, 'transform']` → `fieldMappings.2.transform`.
 * A NUL character in a key is written as the text `\u0000`.
 */
export function joinPath(path: readonly PropertyKey[]): string {
  return path
    .map((p) => (typeof p === 'symbol' ? (p.description ?? '') : String(p)))
    .join('.')
    .replaceAll('\u0000', '\\u0000');
}

/** Flattens zod issues into `FieldIssue`s: one per unknown key, unions reduced to their closest option. */
export function toFieldIssues(issues: readonly Issue[], prefix: readonly PropertyKey[] = []): FieldIssue[] {
  const out: FieldIssue[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: joinPath([...path, key]), message: 'is not a recognized field' });
    } else if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      out.push(...unionIssues(issue.errors, path));
    } else {
      out.push({ path: joinPath(path), message: issue.message });
    }
  }
  return out;
}

/**
 * A value matched none of a union's options. When every option failed on the value's type alone
 * (`string | number` given `true`), say what the types are; otherwise report the issues of the option
 * that came closest: the fewest issues about the value's own type, then the fewest issues.
 */
function unionIssues(branches: readonly (readonly Issue[])[], path: readonly PropertyKey[]): FieldIssue[] {
  const rootTypeIssues = (b: readonly Issue[]) =>
    b.filter((i) => i.code === 'invalid_type' && i.path.length === 0).length;
  const allTypeMismatch = branches.every((b) => b.length === 1 && rootTypeIssues(b) === 1);
  if (allTypeMismatch) {
    const expected = [...new Set(branches.map((b) => (b[0]?.code === 'invalid_type' ? typeNoun(b[0].expected) : '')))];
    return [{ path: joinPath(path), message: `must be ${expected.join(' or ')}` }];
  }
  let best: readonly Issue[] | undefined;
  for (const b of branches) {
    if (
      best === undefined ||
      rootTypeIssues(b) < rootTypeIssues(best) ||
      (rootTypeIssues(b) === rootTypeIssues(best) && b.length < best.length)
    ) {
      best = b;
    }
  }
  return toFieldIssues(best ?? [], path);
}

function typeNoun(expected: string): string {
  switch (expected) {
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'int':
      return 'an integer';
    case 'boolean':
      return 'true or false';
    case 'object':
    case 'record':
      return 'an object';
    case 'array':
    case 'tuple':
      return 'an array';
    case 'date':
      return 'a date';
    case 'null':
      return 'null';
    default:
      return `a ${expected}`;
  }
}

function list(values: readonly unknown[]): string {
  return values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ');
}

/** Per-parse error map: zod's default messages rewritten as "is required", "must be one of …" and so on. */
export function humanMessage(issue: RawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.input === undefined) return 'is required';
      if (issue.expected === 'never') return 'is not allowed';
      if (issue.expected === 'number' || issue.expected === 'int') {
        if (typeof issue.input === 'number' && !Number.isFinite(issue.input)) return 'must be a finite number';
        // z.int() reports a non-number as expected "number"; its schema says it is an integer format.
        const format: unknown = issue.schema === undefined ? undefined : Reflect.get(issue.schema._zod.def, 'format');
        const integer = issue.expected === 'int' || (typeof format === 'string' && format.includes('int'));
        return integer ? 'must be an integer' : 'must be a number';
      }
      return `must be ${typeNoun(issue.expected)}`;
    }
    case 'too_small': {
      const min = Number(issue.minimum);
      if (issue.origin === 'string') {
        if (min === 1) return 'must not be empty';
        return issue.exact ? `must be exactly ${min} characters` : `must be at least ${min} characters`;
      }
      if (issue.origin === 'array' || issue.origin === 'set') {
        if (min === 1) return 'must not be empty';
        return `must contain at least ${min} items`;
      }
      return issue.inclusive === false ? `must be greater than ${min}` : `must be at least ${min}`;
    }
    case 'too_big': {
      const max = Number(issue.maximum);
      if (issue.origin === 'string') {
        return issue.exact ? `must be exactly ${max} characters` : `must be at most ${max} characters`;
      }
      if (issue.origin === 'array' || issue.origin === 'set') return `must contain at most ${max} items`;
      return issue.inclusive === false ? `must be less than ${max}` : `must be at most ${max}`;
    }
    case 'invalid_value':
      if (issue.input === undefined && !issue.values.includes(undefined)) return 'is required';
      return issue.values.length === 1 ? `must be ${list(issue.values)}` : `must be one of ${list(issue.values)}`;
    case 'invalid_format':
      return issue.format === 'regex' ? 'has an invalid format' : `must be a valid ${issue.format}`;
    case 'not_multiple_of':
      return `must be a multiple of ${issue.divisor}`;
    case 'invalid_key':
      return 'has an invalid key';
    case 'invalid_element':
      return 'has an invalid element';
    case 'invalid_union': {
      // A discriminated union whose discriminator matched no option: the issue sits at the discriminator.
      const options: unknown = issue.options;
      if (typeof issue.discriminator === 'string' && Array.isArray(options)) {
        const input = issue.input;
        const value =
          typeof input === 'object' && input !== null
            ? (input as Record<string, unknown>)[issue.discriminator]
            : undefined;
        return value === undefined ? 'is required' : `must be one of ${list(options)}`;
      }
      return 'does not match any allowed shape';
    }
    default:
      return undefined;
  }
}

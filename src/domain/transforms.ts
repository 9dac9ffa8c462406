/**
 * The registry of value transforms used by field mappings.
 *
 * One table (`TRANSFORMS`) maps each transform name to its argument schema and its implementation.
 * `transformSpecSchema` validates a `{ name, args? }` spec against that table; `compileTransform` turns a spec
 * into a function once (arguments parsed, paths split, template parsed), so the per-record work is a plain call.
 *
 * Dot-path helpers live here too (rather than in `mapping.ts`) because concat and template read other fields of
 * the source record; `mapping.ts` builds on them.
 */
import { z } from 'zod';
import type { TransformSpec } from './types.ts';
import { humanMessage } from './validate.ts';

export const TRANSFORM_NAMES = [
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
] as const;
export type TransformName = (typeof TRANSFORM_NAMES)[number];

/** A value could not be converted by a transform. Thrown as is; the mapper wraps it in a MappingError. */
export class TransformError extends Error {
  override readonly name = 'TransformError';
  readonly code = 'transform_failed';
  constructor(
    /** The transform's name, e.g. `to_number`. */
    readonly transform: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Dot paths
// ---------------------------------------------------------------------------------------------------------------

/** Segments that would reach into prototypes; refused in every path. */
export const FORBIDDEN_PATH_SEGMENTS: ReadonlySet<string> = new Set(['__proto__', 'prototype', 'constructor']);

const DOT_PATH_RE = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/;

/** Why `path` is not a valid dot path, or undefined if it is. */
export function dotPathProblem(path: string): string | undefined {
  if (path.length === 0) return 'must not be empty';
  if (!DOT_PATH_RE.test(path)) {
    return 'must be a dot path of segments made of letters, digits, _ and - (e.g. address.city)';
  }
  for (const segment of path.split('.')) {
    if (FORBIDDEN_PATH_SEGMENTS.has(segment)) return `must not contain the segment "${segment}"`;
  }
  return undefined;
}

/** A non-empty dot path such as `address.city`: segments of letters, digits, `_`, `-`; no prototype segments. */
export const dotPathSchema = z.string().superRefine((path, ctx) => {
  const problem = dotPathProblem(path);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

/** Reads the value at pre-split `segments`, own properties only; undefined when any step is missing. */
export function getSegments(obj: unknown, segments: readonly string[]): unknown {
  let current = obj;
  for (let i = 0; i < segments.length; i++) {
    if (typeof current !== 'object' || current === null) return undefined;
    const segment = segments[i]!;
    if (!Object.hasOwn(current, segment)) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers for implementations
// ---------------------------------------------------------------------------------------------------------------

/** A compiled transform: value of the source field and the whole source record in, mapped value out. */
export type CompiledTransform = (value: unknown, record: Record<string, unknown>) => unknown;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string')
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return `${typeof value} ${String(value)}`;
  }
  return `a value of type ${typeof value}`;
}

function fail(transform: TransformName, value: unknown, expected: string): never {
  throw new TransformError(transform, `${transform}: cannot convert ${describe(value)}: expected ${expected}`);
}

/** Text for concat/template: strings as is, Dates as ISO, objects as JSON. */
function toText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

/** A fresh copy of object values, so records never share (and later mutate) one configured object. */
function fresh(value: unknown): unknown {
  return typeof value === 'object' && value !== null ? structuredClone(value) : value;
}

/** Parses a finite number from a number or a numeric string; undefined otherwise. */
function numeric(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string') {
    const trimmed = value.trim();
    if (trimmed === '') return undefined;
    const n = Number(trimmed);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

function requireString(transform: TransformName, value: unknown): string {
  if (typeof value !== 'string') fail(transform, value, 'a string');
  return value;
}

const BOOLEAN_WORDS: ReadonlyMap<string, boolean> = new Map([
  ['true', true],
  ['false', false],
  ['1', true],
  ['0', false],
  ['yes', true],
  ['no', false],
]);

const PLACEHOLDER_RE = /\{\{([^{}]*)\}\}/g;

/** A template split into literal text and placeholder paths (as segment arrays). */
type TemplatePart = string | readonly string[];

function parseTemplate(template: string): { parts: TemplatePart[]; problems: string[] } {
  const parts: TemplatePart[] = [];
  const problems: string[] = [];
  let last = 0;
  for (const match of template.matchAll(PLACEHOLDER_RE)) {
    const index = match.index;
    if (index > last) parts.push(template.slice(last, index));
    const path = (match[1] ?? '').trim();
    const problem = dotPathProblem(path);
    if (problem === undefined) parts.push(path.split('.'));
    else problems.push(`placeholder {{${match[1] ?? ''}}}: path ${problem}`);
    last = index + match[0].length;
  }
  const rest = template.slice(last);
  if (rest.includes('{{')) problems.push('has an unclosed {{ placeholder');
  if (rest.length > 0) parts.push(rest);
  return { parts, problems };
}

// ---------------------------------------------------------------------------------------------------------------
// The registry
// ---------------------------------------------------------------------------------------------------------------

interface TransformDef {
  /** Validates the spec's `args` (which may be undefined). */
  readonly args: z.ZodType;
  /** Builds the implementation from arguments that passed `args`. */
  readonly compile: (args: unknown) => CompiledTransform;
}

const noArgs = z
  .strictObject(
    {},
    { error: (issue) => (issue.code === 'unrecognized_keys' ? 'this transform takes no args' : undefined) },
  )
  .optional();

/** A transform of the value alone. null/undefined pass through as null. */
function single(fn: (value: unknown) => unknown): TransformDef {
  const impl: CompiledTransform = (value) => (value === null || value === undefined ? null : fn(value));
  return { args: noArgs, compile: () => impl };
}

/** A transform with arguments; `compile` gets them parsed (defaults applied). */
function withArgs<S extends z.ZodType>(args: S, compile: (args: z.output<S>) => CompiledTransform): TransformDef {
  return { args, compile: (raw) => compile(args.parse(raw)) };
}

const mapValuesArgs = z.strictObject({
  values: z.record(z.string(), z.json()),
  default: z.json().optional(),
});

const concatArgs = z.strictObject({
  fields: z.array(dotPathSchema).min(1, 'must list at least one field'),
  separator: z.string().default(' '),
});

const templateArgs = z.strictObject({
  template: z.string().superRefine((template, ctx) => {
    for (const problem of parseTemplate(template).problems) ctx.addIssue({ code: 'custom', message: problem });
  }),
});

const TRANSFORMS: { readonly [K in TransformName]: TransformDef } = {
  trim: single((v) => requireString('trim', v).trim()),
  lowercase: single((v) => requireString('lowercase', v).toLowerCase()),
  uppercase: single((v) => requireString('uppercase', v).toUpperCase()),

  to_number: single((v) => {
    if (typeof v === 'boolean') return v ? 1 : 0;
    const n = numeric(v);
    if (n === undefined) fail('to_number', v, 'a finite number or numeric string');
    return n;
  }),

  to_string: single((v) => toText(v)),

  to_boolean: single((v) => {
    if (typeof v === 'boolean') return v;
    if (v === 1 || v === 0) return v === 1;
    if (typeof v === 'string') {
      const b = BOOLEAN_WORDS.get(v.trim().toLowerCase());
      if (b !== undefined) return b;
    }
    return fail('to_boolean', v, 'a boolean, 0/1, or one of true/false/1/0/yes/no');
  }),

  cents_to_decimal: single((v) => {
    const n = numeric(v);
    if (n === undefined || !Number.isSafeInteger(n)) fail('cents_to_decimal', v, 'an integer number of cents');
    // Division of two exact integers is correctly rounded: 1999 / 100 is the double closest to 19.99.
    return n / 100 + 0; // + 0 turns -0 into 0
  }),

  decimal_to_cents: single((v) => {
    const n = numeric(v);
    if (n === undefined) fail('decimal_to_cents', v, 'a number or numeric string');
    // 19.99 * 100 is 1998.9999999999998 and 1.005 * 100 is 100.49999999999999: cut the binary noise at 15
    // significant digits before rounding half away from zero.
    const cents = Math.round(Number((Math.abs(n) * 100).toPrecision(15)));
    if (!Number.isSafeInteger(cents)) fail('decimal_to_cents', v, 'an amount small enough to count in cents');
    return n < 0 && cents !== 0 ? -cents : cents;
  }),

  unix_to_iso: single((v) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) fail('unix_to_iso', v, 'a number of seconds since the epoch');
    const date = new Date(v * 1000);
    if (Number.isNaN(date.getTime())) fail('unix_to_iso', v, 'a timestamp within the representable date range');
    return date.toISOString();
  }),

  iso_to_unix: single((v) => {
    const ms = v instanceof Date ? v.getTime() : typeof v === 'string' ? Date.parse(v.trim()) : Number.NaN;
    if (Number.isNaN(ms)) fail('iso_to_unix', v, 'an ISO 8601 date string');
    return Math.floor(ms / 1000);
  }),

  map_values: withArgs(mapValuesArgs, ({ values, default: fallback }) => {
    const hasDefault = fallback !== undefined;
    return (value) => {
      if (value === null || value === undefined) return null;
      const key = String(value);
      if (Object.hasOwn(values, key)) return fresh(values[key]);
      return hasDefault ? fresh(fallback) : value;
    };
  }),

  concat: withArgs(concatArgs, ({ fields, separator }) => {
    const paths = fields.map((field) => field.split('.'));
    return (_value, record) => {
      let out: string | null = null;
      for (let i = 0; i < paths.length; i++) {
        const part = getSegments(record, paths[i]!);
        if (part === null || part === undefined) continue;
        out = out === null ? toText(part) : out + separator + toText(part);
      }
      return out;
    };
  }),

  template: withArgs(templateArgs, ({ template }) => {
    const { parts } = parseTemplate(template);
    return (_value, record) => {
      let out = '';
      for (let i = 0; i < parts.length; i++) {
        const part = parts[i]!;
        if (typeof part === 'string') {
          out += part;
        } else {
          const v = getSegments(record, part);
          if (v !== null && v !== undefined) out += toText(v);
        }
      }
      return out;
    };
  }),
};

export function isTransformName(name: string): name is TransformName {
  return Object.hasOwn(TRANSFORMS, name);
}

/**
 * `{ name, args? }`: `name` must be a registered transform and `args` must suit it. Issues point at the
 * offending argument, e.g. `args.values` or `args.fields.1`.
 */
export const transformSpecSchema = z
  .strictObject({
    name: z.enum(TRANSFORM_NAMES),
    args: z.record(z.string(), z.unknown()).optional(),
  })
  .superRefine((spec, ctx) => {
    const result = TRANSFORMS[spec.name].args.safeParse(spec.args, { error: humanMessage });
    if (result.success) return;
    for (const issue of result.error.issues) {
      ctx.addIssue({ code: 'custom', path: ['args', ...issue.path], message: issue.message });
    }
  });

/** Formats zod issues as `path: message` for an error message. */
function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
    .join('; ');
}

/**
 * Validates `spec` once and returns its implementation. Throws TransformError if the spec is invalid.
 * The returned function maps null/undefined to null for single-value transforms; concat and template always
 * run (they read other fields of the record).
 */
export function compileTransform(spec: TransformSpec): CompiledTransform {
  const parsed = transformSpecSchema.safeParse(spec);
  if (!parsed.success) {
    throw new TransformError(String(spec?.name), `invalid transform spec: ${formatIssues(parsed.error)}`, {
      cause: parsed.error,
    });
  }
  return TRANSFORMS[parsed.data.name].compile(parsed.data.args);
}

/**
 * Applies one transform to `value`; `record` is the whole source record (concat and template read from it).
 * Validates the spec on every call: for many records, compile once with `compileTransform` (as the mapper does).
 */
export function applyTransform(spec: TransformSpec, value: unknown, record: Record<string, unknown>): unknown {
  return compileTransform(spec)(value, record);
}

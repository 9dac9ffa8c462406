/**
 * Applying FieldMappingRules to records.
 *
 * `compileMapping` validates the rules and does all parsing once (paths split, transforms compiled);
 * `applyMapping` is then a tight loop over the compiled rules for each record.
 */
import { z } from 'zod';
import type { FieldIssue } from './errors.ts';
import { ValidationError } from './errors.ts';
import {
  type CompiledTransform,
  compileTransform,
  dotPathProblem,
  dotPathSchema,
  FORBIDDEN_PATH_SEGMENTS,
  getSegments,
  transformSpecSchema,
} from './transforms.ts';
import { type FieldMappingRule, RuleDirection } from './types.ts';

/** A rule failed for one record. `field` is the rule's targetField; `cause` is the original error. */
export class MappingError extends Error {
  override readonly name = 'MappingError';
  readonly code = 'mapping_failed';
  constructor(
    readonly field: string,
    readonly sourceField: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Dot paths
// ---------------------------------------------------------------------------------------------------------------

/** The value at dot path `path` in `obj` (own properties only), or undefined when any step is missing. */
export function getPath(obj: unknown, path: string): unknown {
  return getSegments(obj, path.split('.'));
}

function splitForWrite(path: string): string[] {
  const segments = path.split('.');
  for (const segment of segments) {
    if (segment === '') throw new Error(`Cannot set path "${path}": empty segment`);
    if (FORBIDDEN_PATH_SEGMENTS.has(segment))
      throw new Error(`Cannot set path "${path}": segment "${segment}" is not allowed`);
  }
  return segments;
}

/** Writes `value` at pre-split, already checked `segments`, creating nested objects on the way. */
function setSegments(obj: Record<string, unknown>, segments: readonly string[], value: unknown): void {
  let current: Record<string, unknown> = obj;
  const last = segments.length - 1;
  for (let i = 0; i < last; i++) {
    const segment = segments[i]!;
    const next = Object.hasOwn(current, segment) ? current[segment] : undefined;
    if (next === undefined || next === null) {
      const created: Record<string, unknown> = {};
      current[segment] = created;
      current = created;
    } else if (typeof next === 'object') {
      current = next as Record<string, unknown>;
    } else {
      throw new Error(
        `Cannot set path "${segments.join('.')}": "${segments.slice(0, i + 1).join('.')}" is a ${typeof next}`,
      );
    }
  }
  current[segments[last]!] = value;
}

/**
 * Sets `value` at dot path `path` in `obj`, creating nested objects as needed. Refuses empty segments and
 * `__proto__` / `prototype` / `constructor`, and refuses to descend into a non-object value.
 */
export function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  setSegments(obj, splitForWrite(path), value);
}

// ---------------------------------------------------------------------------------------------------------------
// Schemas
// ---------------------------------------------------------------------------------------------------------------

export const fieldMappingRuleSchema = z.strictObject({
  sourceField: dotPathSchema,
  targetField: dotPathSchema,
  transform: transformSpecSchema.optional(),
  defaultValue: z.json().optional(),
  direction: z.enum(RuleDirection),
});

function overlaps(a: string, b: string): boolean {
  return a.startsWith(`${b}.`) || b.startsWith(`${a}.`);
}

/**
 * A job's rules. Refuses two rules of the same direction writing the same targetField, or one writing inside
 * another's (`address` and `address.city`): the second would overwrite the first or write into a source object.
 */
export const fieldMappingRulesSchema = z.array(fieldMappingRuleSchema).superRefine(
  (rules, ctx) => {
    const seen: Record<RuleDirection, Array<{ target: string; index: number }>> = { inbound: [], outbound: [] };
    // Runs even when some rules are malformed (so every problem is reported at once): look only at rules
    // whose direction and target are usable.
    (rules as unknown[]).forEach((raw, index) => {
      const rule = raw as Partial<FieldMappingRule> | null;
      if (
        typeof rule !== 'object' ||
        rule === null ||
        (rule.direction !== 'inbound' && rule.direction !== 'outbound') ||
        typeof rule.targetField !== 'string' ||
        dotPathProblem(rule.targetField) !== undefined
      ) {
        return;
      }
      const earlier = seen[rule.direction];
      for (const other of earlier) {
        if (other.target === rule.targetField) {
          ctx.addIssue({
            code: 'custom',
            path: [index, 'targetField'],
            message: `duplicate ${rule.direction} targetField "${rule.targetField}" (also written by rule ${other.index})`,
          });
          break;
        }
        if (overlaps(other.target, rule.targetField)) {
          ctx.addIssue({
            code: 'custom',
            path: [index, 'targetField'],
            message: `${rule.direction} targetField "${rule.targetField}" overlaps "${other.target}" (rule ${other.index})`,
          });
          break;
        }
      }
      earlier.push({ target: rule.targetField, index });
    });
  },
  { when: (payload) => Array.isArray(payload.value) },
);

// ---------------------------------------------------------------------------------------------------------------
// Compile and apply
// ---------------------------------------------------------------------------------------------------------------

export interface CompiledRule {
  readonly sourceField: string;
  readonly targetField: string;
  readonly source: readonly string[];
  readonly target: readonly string[];
  /** undefined when the rule has none (null is a default: it yields null). */
  readonly defaultValue: unknown;
  /** Whether the default is an object/array, copied per record so records never share it. */
  readonly copyDefault: boolean;
  readonly transform: CompiledTransform | null;
}

export interface CompiledMapping {
  readonly direction: RuleDirection;
  /** Rules of this direction, in order. Empty means records pass through unchanged (shallow copy). */
  readonly rules: readonly CompiledRule[];
}

function toFieldIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
}

/**
 * Validates all `rules` (issue paths are `<index>.<field>` into the given array; throws ValidationError) and
 * compiles those of `direction`. Call once per run, then `applyMapping` for each record.
 */
export function compileMapping(rules: FieldMappingRule[], direction: RuleDirection): CompiledMapping {
  const parsed = fieldMappingRulesSchema.safeParse(rules);
  if (!parsed.success) throw new ValidationError(toFieldIssues(parsed.error), { cause: parsed.error });
  const compiled: CompiledRule[] = [];
  for (const rule of parsed.data) {
    if (rule.direction !== direction) continue;
    const defaultValue = rule.defaultValue;
    compiled.push({
      sourceField: rule.sourceField,
      targetField: rule.targetField,
      source: rule.sourceField.split('.'),
      target: rule.targetField.split('.'),
      defaultValue,
      copyDefault: typeof defaultValue === 'object' && defaultValue !== null,
      transform: rule.transform === undefined ? null : compileTransform(rule.transform),
    });
  }
  return { direction, rules: compiled };
}

/**
 * Maps one record. For each rule, in the spec's order: read the source field, apply the transform (single-value
 * transforms leave null as null; concat/template always run), then, if the value is null/undefined, use the
 * default as written (it is not transformed), else null; write the target.
 * The output holds every target field of the rules (null when there is nothing). With no rules, returns a
 * shallow copy of `source`. Throws MappingError naming the failing rule's targetField.
 */
export function applyMapping(mapping: CompiledMapping, source: Record<string, unknown>): Record<string, unknown> {
  const rules = mapping.rules;
  if (rules.length === 0) return { ...source };
  const out: Record<string, unknown> = {};
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i]!;
    try {
      let value = getSegments(source, rule.source);
      if (rule.transform !== null) value = rule.transform(value, source);
      if (value === null || value === undefined) {
        value =
          rule.defaultValue === undefined
            ? null
            : rule.copyDefault
              ? structuredClone(rule.defaultValue)
              : rule.defaultValue;
      }
      setSegments(out, rule.target, value);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new MappingError(
        rule.targetField,
        rule.sourceField,
        `Cannot map ${rule.sourceField} → ${rule.targetField}: ${message}`,
        {
          cause: err,
        },
      );
    }
  }
  return out;
}

/** The target paths of the mapping's rules, in order. */
export function mappingTargetFields(mapping: CompiledMapping): string[] {
  return mapping.rules.map((rule) => rule.targetField);
}

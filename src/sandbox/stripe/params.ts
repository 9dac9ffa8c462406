import { invalidParam, missingParam, unknownParam, unsupportedParam } from './errors.ts';
import type { FormObject, FormValue } from './form.ts';

/**
 * Reads request parameters the way Stripe validates them: unknown names are refused, values must have the
 * expected shape, and an empty string means "unset" where Stripe allows it.
 */
export class Params {
  constructor(
    readonly raw: FormObject,
    /** `address` for the hash inside `address[...]`, so that messages name the full parameter. */
    private readonly prefix = '',
  ) {}

  name(key: string): string {
    return this.prefix ? `${this.prefix}[${key}]` : key;
  }

  has(key: string): boolean {
    return Object.hasOwn(this.raw, key);
  }

  value(key: string): FormValue | undefined {
    return this.has(key) ? this.raw[key] : undefined;
  }

  /** Refuses parameters outside `allowed`; those in `unsupported` are valid for Stripe but not modelled here. */
  only(allowed: readonly string[], unsupported: readonly string[] = []): this {
    for (const key of Object.keys(this.raw)) {
      if (allowed.includes(key)) continue;
      if (unsupported.includes(key)) throw unsupportedParam(this.name(key));
      throw unknownParam(this.name(key));
    }
    return this;
  }

  /** undefined = absent; null = sent empty (unset) when `unset` is allowed. */
  string(key: string, options: { max?: number; required?: boolean; unset?: boolean } = {}): string | null | undefined {
    const value = this.value(key);
    if (value === undefined) {
      if (options.required) throw missingParam(this.name(key));
      return undefined;
    }
    if (typeof value !== 'string') throw invalidParam(`Invalid string: ${describe(value)}`, this.name(key));
    if (value === '') {
      if (options.required || options.unset === false) throw emptyValue(this.name(key));
      return null;
    }
    if (options.max !== undefined && value.length > options.max) {
      throw invalidParam(`Invalid ${this.name(key)}: must be at most ${options.max} characters`, this.name(key));
    }
    return value;
  }

  requiredString(key: string, max?: number): string {
    return this.string(key, { required: true, max }) as string;
  }

  integer(key: string, options: { min?: number; max?: number; required?: boolean } = {}): number | undefined {
    const value = this.value(key);
    if (value === undefined) {
      if (options.required) throw missingParam(this.name(key));
      return undefined;
    }
    if (value === '') throw emptyValue(this.name(key));
    if (typeof value !== 'string' || !/^-?\d{1,15}$/.test(value)) {
      throw invalidParam(
        `Invalid integer: ${typeof value === 'string' ? value : describe(value)}`,
        this.name(key),
        'parameter_invalid_integer',
      );
    }
    const n = Number(value);
    if (options.min !== undefined && n < options.min) {
      throw invalidParam(
        `This value must be greater than or equal to ${options.min}.`,
        this.name(key),
        'parameter_invalid_integer',
      );
    }
    if (options.max !== undefined && n > options.max) {
      throw invalidParam(
        `This value must be less than or equal to ${options.max}.`,
        this.name(key),
        'parameter_invalid_integer',
      );
    }
    return n;
  }

  boolean(key: string): boolean | undefined {
    const value = this.value(key);
    if (value === undefined) return undefined;
    if (value === 'true') return true;
    if (value === 'false') return false;
    if (value === '') throw emptyValue(this.name(key));
    throw invalidParam(`Invalid boolean: ${typeof value === 'string' ? value : describe(value)}`, this.name(key));
  }

  oneOf<T extends string>(key: string, values: readonly T[], options: { required?: boolean } = {}): T | undefined {
    const value = this.string(key, { required: options.required, unset: false });
    if (value === undefined || value === null) return undefined;
    if (!(values as readonly string[]).includes(value)) {
      throw invalidParam(`Invalid ${this.name(key)}: must be one of ${values.join(', ')}`, this.name(key));
    }
    return value as T;
  }

  /** A nested hash; null when sent as an empty string (unset). */
  hash(key: string, options: { required?: boolean } = {}): Params | null | undefined {
    const value = this.value(key);
    if (value === undefined) {
      if (options.required) throw missingParam(this.name(key));
      return undefined;
    }
    if (value === '') return null;
    if (typeof value === 'string' || Array.isArray(value)) {
      throw invalidParam(`Invalid hash`, this.name(key));
    }
    return new Params(value, this.name(key));
  }

  /** An array of strings; an empty string clears it. */
  stringArray(key: string, options: { maxItems?: number; maxLength?: number } = {}): string[] | undefined {
    const value = this.value(key);
    if (value === undefined) return undefined;
    if (value === '') return [];
    if (!Array.isArray(value)) throw invalidParam(`Invalid array`, this.name(key));
    if (options.maxItems !== undefined && value.length > options.maxItems) {
      throw invalidParam(`Invalid array: must have at most ${options.maxItems} items`, this.name(key));
    }
    return value.map((item, i) => {
      if (typeof item !== 'string') throw invalidParam(`Invalid string: ${describe(item)}`, `${this.name(key)}[${i}]`);
      if (options.maxLength !== undefined && item.length > options.maxLength) {
        throw invalidParam(
          `Invalid string: must be at most ${options.maxLength} characters`,
          `${this.name(key)}[${i}]`,
        );
      }
      return item;
    });
  }

  /**
   * Stripe's metadata rules: up to 50 keys, keys up to 40 characters (no square brackets), values up to 500
   * characters; a key set to "" is removed, and `metadata=""` removes them all.
   */
  metadata(key: string, current: Record<string, string>): Record<string, string> | undefined {
    const value = this.value(key);
    if (value === undefined) return undefined;
    if (value === '') return {};
    if (typeof value === 'string' || Array.isArray(value)) throw invalidParam('Invalid hash', this.name(key));
    const next: Record<string, string> = { ...current };
    for (const [k, v] of Object.entries(value)) {
      const param = `${this.name(key)}[${k}]`;
      if (typeof v !== 'string') throw invalidParam(`Invalid string: ${describe(v)}`, param);
      if (k.length > 40) {
        throw invalidParam(
          `Metadata keys can have up to 40 characters, but you passed in a key that is ${k.length} characters. Invalid key: ${k}`,
          this.name(key),
        );
      }
      if (v.length > 500) {
        throw invalidParam(
          `Metadata values can have up to 500 characters, but you passed in a value that is ${v.length} characters. Invalid value: ${v.slice(0, 20)}…`,
          param,
        );
      }
      if (v === '') delete next[k];
      else next[k] = v;
    }
    if (Object.keys(next).length > 50) {
      throw invalidParam('Invalid metadata: metadata cannot have more than 50 keys', this.name(key));
    }
    return next;
  }
}

export function emptyValue(param: string) {
  return invalidParam(
    `You passed an empty string for '${param}'. We assume empty values are an attempt to unset a parameter; however '${param}' cannot be unset. You should remove '${param}' from your request or supply a non-empty value.`,
    param,
    'parameter_invalid_empty',
  );
}

function describe(value: FormValue): string {
  return JSON.stringify(value);
}

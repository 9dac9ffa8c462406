/**
 * Stripe's v1 request encoding: `application/x-www-form-urlencoded` (bodies) and query strings, with nested keys
 * (`metadata[plan]=pro`, `address[city]=Paris`) and arrays (`types[]=a`, `types[0]=a`, as the official SDK sends).
 */

export type FormValue = string | FormValue[] | FormObject;
export interface FormObject {
  [key: string]: FormValue;
}

/** A request whose encoding Stripe would refuse (a key used both as a value and as a hash, say). */
export class FormEncodingError extends Error {
  constructor(
    message: string,
    readonly param: string,
  ) {
    super(message);
  }
}

const KEY = /^([^[\]]+)((?:\[[^[\]]*\])*)$/;
const FORBIDDEN = new Set(['__proto__', 'prototype', 'constructor']);

export function parseForm(entries: Iterable<[string, string]>): FormObject {
  const root: FormObject = {};
  for (const [rawKey, value] of entries) {
    const match = KEY.exec(rawKey);
    const segments = match ? [match[1]!, ...splitBrackets(match[2] ?? '')] : [rawKey];
    let container: FormObject = root;
    for (let i = 0; i < segments.length; i++) {
      let segment = segments[i]!;
      if (FORBIDDEN.has(segment)) throw new FormEncodingError(`Received unknown parameter: ${rawKey}`, rawKey);
      if (segment === '') segment = String(Object.keys(container).length);
      const last = i === segments.length - 1;
      if (last) {
        const existing = own(container, segment);
        if (existing !== undefined && typeof existing !== 'string') {
          throw new FormEncodingError(`Invalid value for ${rawKey}: it was also sent as a hash or an array`, rawKey);
        }
        container[segment] = value;
      } else {
        const existing = own(container, segment);
        if (existing === undefined) {
          const child: FormObject = {};
          container[segment] = child;
          container = child;
        } else if (typeof existing === 'string' || Array.isArray(existing)) {
          throw new FormEncodingError(`Invalid value for ${rawKey}: it was also sent as a string`, rawKey);
        } else {
          container = existing;
        }
      }
    }
  }
  return arraysFromIndexes(root, false) as FormObject;
}

function own(container: FormObject, key: string): FormValue | undefined {
  return Object.hasOwn(container, key) ? container[key] : undefined;
}

function splitBrackets(text: string): string[] {
  const out: string[] = [];
  const re = /\[([^[\]]*)\]/g;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(m[1]!);
  return out;
}

/** Hashes whose keys are all 0, 1, 2… become arrays; metadata keeps its keys whatever they look like. */
function arraysFromIndexes(value: FormValue, isMetadata: boolean): FormValue {
  if (typeof value === 'string' || Array.isArray(value)) return value;
  const keys = Object.keys(value);
  if (!isMetadata && keys.length > 0 && keys.every((k) => /^(0|[1-9]\d{0,5})$/.test(k))) {
    return keys
      .map(Number)
      .sort((a, b) => a - b)
      .map((k) => arraysFromIndexes(value[String(k)]!, false));
  }
  const out: FormObject = {};
  for (const k of keys) out[k] = arraysFromIndexes(value[k]!, k === 'metadata');
  return out;
}

/** A stable text of parameters, to compare an idempotent retry with the request that first used its key. */
export function canonicalParams(value: FormValue): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalParams).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalParams(value[k]!)}`).join(',')}}`;
}

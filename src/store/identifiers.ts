import { ValidationError } from '../domain/errors.ts';

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * Validates a SQL identifier (optionally `schema.name`) and returns it double-quoted.
 * Identifiers never come from record data; they come from configuration, and are still checked,
 * because everything else goes through parameters.
 */
export function quoteIdentifier(name: string, field = 'identifier'): string {
  const parts = name.split('.');
  if (parts.length > 2 || parts.some((p) => !IDENT.test(p))) {
    throw new ValidationError([
      {
        path: field,
        message: `"${name}" is not a valid SQL identifier (letters, digits and _; optionally schema.name)`,
      },
    ]);
  }
  return parts.map((p) => `"${p}"`).join('.');
}

export function isIdentifier(name: string): boolean {
  return IDENT.test(name);
}

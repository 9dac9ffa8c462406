import type { Logger } from 'pino';

/** Paths pino blanks out on every line, whatever logger the application passes. */
export const REDACT_PATHS = [
  'credentials',
  '*.credentials',
  'apiKey',
  '*.apiKey',
  'accessToken',
  '*.accessToken',
  'token',
  '*.token',
  'secret',
  '*.secret',
  'password',
  '*.password',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
];

export function withRedaction(logger: Logger): Logger {
  // pino applies `redact` at construction; a child with its own redact option keeps the parent's stream.
  return logger.child({}, { redact: { paths: REDACT_PATHS, censor: '[redacted]' } });
}

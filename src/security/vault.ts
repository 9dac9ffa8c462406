import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ValidationError } from '../domain/errors.ts';

/**
 * Credentials at rest: AES-256-GCM, a fresh 96-bit IV per value, and the id of the key that sealed it,
 * so keys can rotate (old keys stay readable while listed). Envelope: `v1.<keyId>.<iv>.<tag>.<ciphertext>`
 * (base64url parts). Plaintext exists only inside a run or a webhook check.
 */
export class CredentialVault {
  private readonly keys = new Map<string, Buffer>();
  private readonly currentId: string;

  /** `keys[0]` seals new values; all of them open old ones. Each is 32 bytes (hex or base64 when given as text). */
  constructor(keys: (Buffer | string)[]) {
    if (keys.length === 0) throw new ValidationError([{ path: 'encryptionKey', message: 'is required' }]);
    const parsed = keys.map((k, i) => parseKey(k, i));
    for (const key of parsed) this.keys.set(keyId(key), key);
    this.currentId = keyId(parsed[0]!);
  }

  seal(value: Record<string, string>): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.currentId)!, iv);
    cipher.setAAD(Buffer.from(this.currentId));
    const ct = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return [
      'v1',
      this.currentId,
      iv.toString('base64url'),
      cipher.getAuthTag().toString('base64url'),
      ct.toString('base64url'),
    ].join('.');
  }

  open(envelope: string): Record<string, string> {
    const [version, id, iv, tag, ct] = envelope.split('.');
    if (version !== 'v1' || !id || !iv || !tag || ct === undefined)
      throw new Error('credentials: unknown envelope format');
    const key = this.keys.get(id);
    if (!key) throw new Error(`credentials were sealed with key ${id}, which is not configured`);
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(id));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    const text = Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
    return JSON.parse(text) as Record<string, string>;
  }

  /** True when the envelope was sealed with a key other than the current one (to be re-sealed). */
  isStale(envelope: string): boolean {
    return envelope.split('.')[1] !== this.currentId;
  }

  /** The ids of the configured keys, the sealing one first. */
  keyIds(): string[] {
    return [...this.keys.keys()];
  }
}

function parseKey(key: Buffer | string, index: number): Buffer {
  const buf =
    typeof key !== 'string' ? key : /^[0-9a-f]{64}$/i.test(key) ? Buffer.from(key, 'hex') : Buffer.from(key, 'base64');
  if (buf.length !== 32) {
    throw new ValidationError([
      { path: `encryptionKey.${index}`, message: 'must be 32 bytes (64 hex characters or base64)' },
    ]);
  }
  return buf;
}

/** A key's id: the first 12 hex digits of the SHA-256 of its 32 bytes (stored in every envelope it seals). */
function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}

/**
 * The key for the embedded default: `<dataDir>/encryption.key`, created with mode 0600 when missing.
 * Returns whether it was created, so the caller can warn that production should set the key itself.
 * `mayCreate` runs before a new key is made and may throw to refuse (stored credentials sealed by the lost one).
 */
export function loadOrCreateKeyFile(
  dataDir: string,
  options: { mayCreate?: (path: string) => void } = {},
): { key: string; created: boolean } {
  const path = keyFilePath(dataDir);
  if (existsSync(path)) return { key: readFileSync(path, 'utf8').trim(), created: false };
  // A missing file next to credentials sealed by it must not be replaced silently: the caller may refuse.
  options.mayCreate?.(path);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32).toString('hex');
  // `wx`: never overwrite a key file another process has just written.
  writeFileSync(path, `${key}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  return { key, created: true };
}

export function keyFilePath(dataDir: string): string {
  return join(dataDir, 'encryption.key');
}

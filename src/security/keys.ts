import { randomBytes } from 'node:crypto';
import { ValidationError } from '../domain/errors.ts';
import { CredentialVault, loadOrCreateKeyFile } from './vault.ts';

/**
 * The vault for credentials at rest. Keys, in order: `encryptionKeys`; else `OTESSE_SYNC_ENCRYPTION_KEY`
 * (comma-separated, the first seals); else for a PGlite data directory a key file in it (created 0600, with a
 * warning); an in-memory database gets a throwaway key; PostgreSQL without a key is refused.
 */
export function openVault(
  encryptionKeys: string[] | undefined,
  database: unknown,
  defaultDataDir: string,
): CredentialVault {
  if (encryptionKeys?.length) return new CredentialVault(encryptionKeys);
  const env = process.env.OTESSE_SYNC_ENCRYPTION_KEY;
  if (env) return new CredentialVault(env.split(',').map((k) => k.trim()));
  const target = database ?? defaultDataDir;
  if (target === 'memory://' || typeof target !== 'string') return new CredentialVault([randomBytes(32)]);
  if (/^postgres(ql)?:\/\//.test(target)) {
    throw new ValidationError([
      { path: 'encryptionKeys', message: 'set OTESSE_SYNC_ENCRYPTION_KEY (32 bytes, hex) when using PostgreSQL' },
    ]);
  }
  const { key, created } = loadOrCreateKeyFile(target);
  if (created) {
    process.emitWarning(
      `otesse-sync generated an encryption key in ${target}/encryption.key; set OTESSE_SYNC_ENCRYPTION_KEY in production`,
    );
  }
  return new CredentialVault([key]);
}

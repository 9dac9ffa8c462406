import { randomBytes } from 'node:crypto';
import { ValidationError } from '../domain/errors.ts';
import { CredentialVault, keyFilePath, loadOrCreateKeyFile } from './vault.ts';

/** What the database holds: how many stored credentials each key id sealed (read without decrypting). */
export interface SealedCredentials {
  /** Key id → number of connections whose credentials it sealed. */
  keyIds: ReadonlyMap<string, number>;
  /**
   * Start even when some of them were sealed by a key that is not configured (a lost key): those
   * connections' runs fail until their credentials are entered again. Default: refuse to start.
   */
  allowMissing: boolean;
}

/**
 * The vault for credentials at rest. Keys, in order: `encryptionKeys`; else `OTESSE_SYNC_ENCRYPTION_KEY`
 * (comma-separated, the first seals); else for a PGlite data directory a key file in it (created 0600, with a
 * warning); an in-memory database gets a throwaway key; PostgreSQL without a key is refused.
 *
 * With `sealed` (what the database already holds), it also refuses to start when a stored credential was sealed
 * by a key that is not configured (a wrong key, a key file that went missing: never replaced silently), naming
 * the key ids and how to fix it.
 */
export function openVault(
  encryptionKeys: string[] | undefined,
  database: unknown,
  defaultDataDir: string,
  sealed: SealedCredentials = { keyIds: new Map(), allowMissing: false },
): CredentialVault {
  const stored = [...sealed.keyIds.keys()];
  let vault: CredentialVault;
  let source: string;
  const env = process.env.OTESSE_SYNC_ENCRYPTION_KEY;
  const target = database ?? defaultDataDir;
  if (encryptionKeys?.length) {
    vault = new CredentialVault(encryptionKeys);
    source = 'the encryptionKeys option';
  } else if (env) {
    vault = new CredentialVault(env.split(',').map((k) => k.trim()));
    source = 'OTESSE_SYNC_ENCRYPTION_KEY';
  } else if (target === 'memory://' || typeof target !== 'string') {
    vault = new CredentialVault([randomBytes(32)]);
    source = 'a throwaway key (no key was configured)';
  } else if (/^postgres(ql)?:\/\//.test(target)) {
    throw new ValidationError([
      { path: 'encryptionKeys', message: 'set OTESSE_SYNC_ENCRYPTION_KEY (32 bytes, hex) when using PostgreSQL' },
    ]);
  } else {
    const file = keyFilePath(target);
    const { key, created } = loadOrCreateKeyFile(target, {
      mayCreate: () => {
        if (stored.length === 0 || sealed.allowMissing) return;
        throw missingKeys(
          sealed.keyIds,
          `${file} is missing`,
          `restore ${file} (the file that sealed them), or set OTESSE_SYNC_ENCRYPTION_KEY to that key`,
        );
      },
    });
    if (created) {
      process.emitWarning(
        `otesse-sync generated an encryption key in ${file}; set OTESSE_SYNC_ENCRYPTION_KEY in production`,
      );
    }
    vault = new CredentialVault([key]);
    source = file;
  }

  const configured = new Set(vault.keyIds());
  const missing = new Map([...sealed.keyIds].filter(([id]) => !configured.has(id)));
  if (missing.size > 0) {
    if (!sealed.allowMissing) {
      throw missingKeys(
        missing,
        `the configured key(s) (${source}: ${vault.keyIds().join(', ')}) do not include them`,
        'set OTESSE_SYNC_ENCRYPTION_KEY (or encryptionKeys) to include the key that sealed them, comma-separated ' +
          'after the one that seals new values (e.g. OTESSE_SYNC_ENCRYPTION_KEY=<new>,<old>; then `otesse-sync ' +
          'rotate-key` re-seals everything under the first)',
      );
    }
    process.emitWarning(
      `otesse-sync: ${describe(missing)} cannot be opened (key not configured); their runs fail until their ` +
        'credentials are entered again',
    );
  }
  return vault;
}

function describe(keyIds: ReadonlyMap<string, number>): string {
  const connections = [...keyIds.values()].reduce((a, b) => a + b, 0);
  const ids = [...keyIds.keys()].join(', ');
  return `the credentials of ${connections} connection(s), sealed with key id(s) ${ids},`;
}

function missingKeys(keyIds: ReadonlyMap<string, number>, problem: string, fix: string): ValidationError {
  return new ValidationError([
    {
      path: 'encryptionKeys',
      message:
        `${describe(keyIds)} cannot be opened: ${problem}. To fix it: ${fix}. A key's id is the first 12 hex ` +
        'digits of the SHA-256 of its 32 bytes. If that key is lost, start once with ' +
        'OTESSE_SYNC_ALLOW_MISSING_KEYS=1 and enter those connections’ credentials again (PATCH ' +
        '/api/v1/connections/{id} with the full credentials, or the edit form of the UI).',
    },
  ]);
}

import { ValidationError } from '../domain/errors.ts';
import { toFieldIssues } from '../domain/validate.ts';
import type { ProviderDefinition } from '../engine/endpoint.ts';

/** The providers an engine can connect to, by name. */
export interface ProviderRegistry {
  get(name: string): ProviderDefinition | undefined;
  list(): ProviderDefinition[];
  /** A connection's config as its provider validates it (issues reported as `config.<path>`). */
  checkConfig(providerName: string, config: Record<string, unknown>): unknown;
  /** Entity types the provider declares for a connection's config. */
  entityTypesOf(provider: ProviderDefinition, config: Record<string, unknown>): readonly string[];
  /**
   * The `config` keys whose change moves where the provider sends credentials (settings with
   * `credentialTarget`, by default those of type `url`), that differ between `before` and `after`.
   */
  movedCredentialTargets(
    providerName: string,
    before: Record<string, unknown>,
    after: Record<string, unknown>,
  ): string[];
  /** The provider's credential settings marked `required` (empty without provider info). */
  requiredCredentials(providerName: string): string[];
  /** Unknown provider names are reported on `path` with the registered ones. */
  requireKnown(name: string, path: string): void;
  closeAll(): Promise<void>;
}

export function providerRegistry(providers: readonly ProviderDefinition[]): ProviderRegistry {
  const byName = new Map(providers.map((p) => [p.name, p]));
  return {
    get: (name) => byName.get(name),
    list: () => [...byName.values()],
    checkConfig(providerName, config) {
      const schema = byName.get(providerName)?.configSchema;
      if (!schema) return config;
      const parsed = schema.safeParse(config);
      if (!parsed.success) {
        throw new ValidationError(
          toFieldIssues(parsed.error.issues as Parameters<typeof toFieldIssues>[0], ['config']),
        );
      }
      return parsed.data;
    },
    entityTypesOf: (provider, config) => provider.entityTypesFor?.(config) ?? provider.entityTypes,
    movedCredentialTargets(providerName, before, after) {
      const settings = byName.get(providerName)?.info?.config ?? [];
      return settings
        .filter((s) => s.credentialTarget ?? s.type === 'url')
        .map((s) => s.name)
        .filter((key) => sameAddress(before[key]) !== sameAddress(after[key]));
    },
    requiredCredentials: (providerName) =>
      (byName.get(providerName)?.info?.credentials ?? []).filter((s) => s.required).map((s) => s.name),
    requireKnown(name, path) {
      if (byName.has(name)) return;
      const registered = [...byName.keys()].join(', ') || 'none';
      throw new ValidationError([{ path, message: `unknown provider "${name}"; registered: ${registered}` }]);
    },
    async closeAll() {
      await Promise.allSettled([...byName.values()].map((p) => p.close?.()));
    },
  };
}

/** A config value in a form where URLs that differ only in spelling (`https://a.test` vs `https://a.test/`) match. */
function sameAddress(value: unknown): string {
  if (typeof value === 'string' && URL.canParse(value)) return new URL(value).href;
  return JSON.stringify(value ?? null);
}

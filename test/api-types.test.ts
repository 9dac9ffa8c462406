import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { apiChannel, apiChannelWithSecret, apiDelivery } from '../src/api/alert-routes.ts';
import type { LocalEntityInfo } from '../src/api/config.ts';
import type { apiConnection, apiDeadLetter, apiExecution, apiJob } from '../src/api/shapes.ts';
import { API_TYPES_FILE, apiTypesSource, openApiDocument } from '../src/cli/api-types.ts';
import type { Conflict, ExecutionCounters, RecordFailure } from '../src/domain/types.ts';
import type { EntityTypeInfo, SettingInfo } from '../src/engine/endpoint.ts';
import type { components } from '../web/src/api-schema.ts';

/**
 * The web UI's API types (web/src/api-schema.ts) come from the server's OpenAPI document. A route or response
 * schema change without `npm run api:types` fails here; after it, a change that breaks the UI fails the UI's
 * typecheck. The type tests (checked by `tsc`, i.e. `npm run typecheck`) tie the documented schemas to what the
 * handlers really send, so the document cannot drift from the responses either.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
type Schemas = components['schemas'];
/** What JSON.stringify makes of a value of type T (dates become ISO strings). */
type Json<T> = T extends Date
  ? string
  : T extends readonly (infer U)[]
    ? Json<U>[]
    : T extends object
      ? { [K in keyof T]: Json<T[K]> }
      : T;

/**
 * `true` when a value the server sends (A) is a valid documented B and the other way round, with the same
 * properties; otherwise what differs.
 */
type Same<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never]
  ? [A] extends [B]
    ? [B] extends [A]
      ? true
      : 'the schema allows values the server never sends (a type too wide, or a property not always sent)'
    : 'the server sends values the schema does not allow'
  : { sentButNotDocumented: Exclude<keyof A, keyof B>; documentedButNotSent: Exclude<keyof B, keyof A> };

describe('web/src/api-schema.ts', () => {
  it('is generated from the current OpenAPI document', async () => {
    const expected = await apiTypesSource();
    const actual = readFileSync(`${ROOT}${API_TYPES_FILE}`, 'utf8');
    expect(actual, `${API_TYPES_FILE} is stale: run npm run api:types`).toBe(expected);
  });

  it('declares the success response of every /api/v1 route', async () => {
    const doc = await openApiDocument();
    const missing: string[] = [];
    for (const [path, item] of Object.entries(doc.paths ?? {})) {
      if (!path.startsWith('/api/v1/')) continue;
      for (const [method, op] of Object.entries(item as Record<string, { responses?: Record<string, unknown> }>)) {
        const success = Object.entries(op.responses ?? {}).filter(([code]) => code.startsWith('2'));
        const documented = success.some(([code, r]) => code === '204' || (r as { content?: unknown }).content);
        if (!documented) missing.push(`${method.toUpperCase()} ${path}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('matches what the handlers send (type test: npm run typecheck)', () => {
    type Checks = {
      Execution: Same<Json<ReturnType<typeof apiExecution>>, Schemas['Execution']>;
      Job: Same<Omit<Json<ReturnType<typeof apiJob>>, 'fieldMappings'>, Omit<Schemas['Job'], 'fieldMappings'>>;
      // defaultValue: any JSON value (the handler's type says "not undefined": {} | null).
      FieldMapping: Same<
        Omit<Json<ReturnType<typeof apiJob>['fieldMappings'][number]>, 'defaultValue'>,
        Omit<Schemas['FieldMapping'], 'defaultValue'>
      >;
      Connection: Same<Json<ReturnType<typeof apiConnection>>, Schemas['Connection']>;
      DeadLetter: Same<Json<ReturnType<typeof apiDeadLetter>>, Schemas['DeadLetter']>;
      Failure: Same<Json<RecordFailure>, Schemas['Failure']>;
      Counters: Same<ExecutionCounters, Schemas['Counters']>;
      Setting: Same<SettingInfo, Schemas['Setting']>;
      EntityType: Same<EntityTypeInfo, Schemas['EntityType']>;
      LocalEntity: Same<LocalEntityInfo, Schemas['LocalEntity']>;
      // resolution: the schema says "an object"; the library's type names its two shapes.
      Conflict: Same<Omit<Json<Conflict>, 'resolution'>, Omit<Schemas['Conflict'], 'resolution'>>;
      NotificationChannel: Same<Json<ReturnType<typeof apiChannel>>, Schemas['NotificationChannel']>;
      NotificationChannelWithSecret: Same<
        Json<ReturnType<typeof apiChannelWithSecret>>,
        Schemas['NotificationChannelWithSecret']
      >;
      AlertDelivery: Same<Json<ReturnType<typeof apiDelivery>>, Schemas['AlertDelivery']>;
    };
    expectTypeOf<Checks>().toEqualTypeOf<{ [K in keyof Checks]: true }>();
  });
});

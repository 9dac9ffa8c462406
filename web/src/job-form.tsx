/**
 * "Add Sync Job" and "Edit sync job": every setting of the spec's table with its default, and field mappings; Preview
 * shows what a first run of the settings as they stand would do, writing nothing (refusals at the form's fields).
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useId, useMemo, useState } from 'react';
import { Link } from 'wouter';
import {
  api,
  type ConflictStrategy,
  type Direction,
  type EntityType,
  type FieldMapping,
  type Job,
  type JobInput,
  type LocalEntity,
  type Mode,
  type Transform,
} from './api.ts';
import { useProviders } from './connections.tsx';
import { CRON_PRESETS, capitalize, cronToWords } from './cron.ts';
import { navigate, paths } from './navigation.ts';
import { operatorApi } from './operator-api.ts';
import { isFieldRefusal, PreviewPanel, usePreview } from './preview.tsx';
import { restEntityTypes } from './rest-draft.ts';
import {
  CONFLICT_LABEL,
  DIRECTION_LABEL,
  ErrorState,
  Field,
  FormErrors,
  fieldErrorOf,
  Loading,
  useDocumentTitle,
  useFocusFirstError,
} from './ui.tsx';

const DIRECTIONS: Direction[] = ['inbound', 'outbound', 'bidirectional'];
const MODES: Mode[] = ['full', 'incremental'];
const STRATEGIES: ConflictStrategy[] = ['provider_wins', 'local_wins', 'newest_wins', 'manual'];

const DIRECTION_HELP: Record<Direction, string> = {
  inbound: 'Reads from the provider and creates/updates local records.',
  outbound: 'Reads local records and creates/updates them at the provider.',
  bidirectional: 'Both ways; needs a conflict strategy.',
};
const MODE_HELP: Record<Mode, string> = {
  full: 'All records, every run.',
  incremental: 'Only records changed since the last successful run.',
};

export type DeletePolicy = Job['deletePolicy'];
const DELETE_POLICIES: DeletePolicy[] = ['ignore', 'soft_delete', 'hard_delete'];
export const DELETE_POLICY_LABEL: Record<DeletePolicy, string> = {
  ignore: 'Ignore',
  soft_delete: 'Mark deleted',
  hard_delete: 'Delete',
};
/** What each policy does, in plain words (also shown on the job's detail page). */
export const DELETE_POLICY_HELP: Record<DeletePolicy, string> = {
  ignore: 'The target keeps the record: nothing is deleted.',
  soft_delete:
    'The target keeps the record and marks it deleted. A local table needs its soft-delete (deletedAt) column.',
  hard_delete: 'The target record is deleted too.',
};
const DEFAULT_MASS_DELETE_THRESHOLD = 20;

export function JobFormPage({ connectionId, jobId }: { connectionId?: string; jobId?: string }) {
  const job = useQuery({ queryKey: ['job', jobId], queryFn: () => api.job(jobId!), enabled: jobId !== undefined });
  const connId = connectionId ?? job.data?.connectionId;
  const connection = useQuery({
    queryKey: ['connection', connId],
    queryFn: () => api.connection(connId!),
    enabled: connId !== undefined,
  });
  const providers = useProviders();
  const locals = useQuery({ queryKey: ['local-entities'], queryFn: api.localEntities, staleTime: 60_000 });
  const transforms = useQuery({ queryKey: ['transforms'], queryFn: api.transforms, staleTime: 300_000 });
  useDocumentTitle(jobId ? 'Edit sync job' : 'Add Sync Job');

  const failed = [job, connection, providers, locals, transforms].find((q) => q.isError);
  if (failed) return <ErrorState error={failed.error} retry={() => failed.refetch()} />;
  if (
    (jobId && !job.isSuccess) ||
    !connection.isSuccess ||
    !providers.isSuccess ||
    !locals.isSuccess ||
    !transforms.isSuccess
  ) {
    return <Loading label="Loading the form…" />;
  }
  const provider = providers.data.find((p) => p.name === connection.data.provider);
  // The REST provider lists no entity types of its own: each connection's config declares them.
  const entityTypes =
    provider?.name === 'rest' ? restEntityTypes(connection.data.config) : (provider?.entityTypes ?? []);
  return (
    <JobForm
      connectionId={connection.data.id}
      connectionName={connection.data.name}
      entityTypes={entityTypes}
      localEntities={locals.data}
      transforms={transforms.data}
      job={job.data}
    />
  );
}

interface MappingRow extends Omit<FieldMapping, 'defaultValue' | 'transformArgs'> {
  key: number;
  defaultValue: string;
  /** transformArgs as JSON text. */
  argsText: string;
}

let rowKey = 0;

function defaultValueText(v: unknown): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** A default value as typed: JSON literals (numbers, true/false, objects) are parsed, anything else is a string. */
function parseDefault(text: string): unknown {
  const t = text.trim();
  if (t === '') return undefined;
  if (/^(-?\d+(\.\d+)?|true|false|null|\{.*\}|\[.*\]|".*")$/s.test(t)) {
    try {
      return JSON.parse(t);
    } catch {
      return text;
    }
  }
  return text;
}

/** Whether a transform takes arguments: its description shows them (`args { … }`). */
function takesArgs(t: Transform | undefined): boolean {
  return t !== undefined && /\bargs\b/.test(t.description);
}

function argsPlaceholder(t: Transform | undefined): string {
  if (!t) return '{}';
  const fromDescription = /\bargs\s*(\{.*\})/.exec(t.description);
  return fromDescription?.[1] ?? '{}';
}

function timezones(): string[] {
  try {
    return (Intl as unknown as { supportedValuesOf(k: string): string[] }).supportedValuesOf('timeZone');
  } catch {
    return ['UTC'];
  }
}

function JobForm({
  connectionId,
  connectionName,
  entityTypes,
  localEntities,
  transforms,
  job,
}: {
  connectionId: string;
  connectionName: string;
  entityTypes: EntityType[];
  localEntities: LocalEntity[];
  transforms: Transform[];
  job?: Job;
}) {
  const editing = job !== undefined;
  const queryClient = useQueryClient();
  const [name, setName] = useState(job?.name ?? '');
  const [entityType, setEntityType] = useState(job?.entityType ?? entityTypes[0]?.name ?? '');
  const guessLocal = (type: string) =>
    localEntities.find((l) => l.name === type || l.name === `${type}s` || `${l.name}s` === type)?.name ?? '';
  const [localEntity, setLocalEntity] = useState(job?.localEntity ?? guessLocal(entityType));
  const [direction, setDirection] = useState<Direction>(job?.direction ?? 'inbound');
  const [mode, setMode] = useState<Mode>(job?.mode ?? 'full');
  const [scheduleKind, setScheduleKind] = useState<'manual' | 'cron'>(job?.schedule ? 'cron' : 'manual');
  const [cron, setCron] = useState(job?.schedule ?? '*/15 * * * *');
  const [timezone, setTimezone] = useState(job?.timezone ?? 'UTC');
  const [retryOnFailure, setRetryOnFailure] = useState(job?.retryOnFailure ?? true);
  const [maxRetries, setMaxRetries] = useState(String(job?.maxRetries ?? 3));
  const [timeoutMinutes, setTimeoutMinutes] = useState(String(job?.timeoutMinutes ?? 60));
  const [conflictStrategy, setConflictStrategy] = useState<ConflictStrategy | ''>(job?.conflictStrategy ?? '');
  const [deletePolicy, setDeletePolicy] = useState<DeletePolicy>(job?.deletePolicy ?? 'ignore');
  const [massDeleteThreshold, setMassDeleteThreshold] = useState(
    String(job?.massDeleteThreshold ?? DEFAULT_MASS_DELETE_THRESHOLD),
  );
  const [enabled, setEnabled] = useState(job?.enabled ?? true);
  const [mappings, setMappings] = useState<MappingRow[]>(
    () =>
      job?.fieldMappings.map((m) => ({
        ...m,
        transform: m.transform ?? null,
        key: ++rowKey,
        defaultValue: defaultValueText(m.defaultValue),
        argsText: m.transformArgs ? JSON.stringify(m.transformArgs) : '',
      })) ?? [],
  );

  const et = entityTypes.find((t) => t.name === entityType);
  const local = localEntities.find((l) => l.name === localEntity);
  const zones = useMemo(timezones, []);
  const uid = useId();

  /** The job as the form stands (sent to save it, or to preview it). */
  const buildBody = (): JobInput => ({
    connectionId,
    name: name.trim(),
    entityType,
    localEntity,
    direction,
    mode,
    schedule: scheduleKind === 'manual' ? null : cron.trim(),
    timezone: timezone.trim() || 'UTC',
    retryOnFailure,
    maxRetries: maxRetries.trim() === '' ? Number.NaN : Number(maxRetries),
    timeoutMinutes: timeoutMinutes.trim() === '' ? Number.NaN : Number(timeoutMinutes),
    conflictStrategy: direction === 'bidirectional' ? conflictStrategy || null : null,
    deletePolicy,
    massDeleteThreshold: massDeleteThreshold.trim() === '' ? Number.NaN : Number(massDeleteThreshold),
    enabled,
    fieldMappings: mappings.map(({ key: _key, defaultValue, argsText, ...m }) => {
      const out: FieldMapping = {
        sourceField: m.sourceField.trim(),
        targetField: m.targetField.trim(),
        transform: m.transform || null,
        direction: m.direction,
      };
      if (m.transform && argsText.trim()) {
        try {
          out.transformArgs = JSON.parse(argsText) as Record<string, unknown>;
        } catch {
          // Sent as typed: the server answers with an error at this row's transformArgs.
          out.transformArgs = argsText as unknown as Record<string, unknown>;
        }
      }
      const d = parseDefault(defaultValue);
      if (d !== undefined) out.defaultValue = d;
      return out;
    }),
  });
  const save = useMutation({
    mutationFn: () => {
      const body = buildBody();
      if (editing) {
        const { connectionId: _c, ...patch } = body;
        return api.updateJob(job.id, patch);
      }
      return api.createJob(body);
    },
    onSuccess: (saved) => {
      queryClient.setQueryData(['job', saved.id], saved);
      void queryClient.invalidateQueries({ queryKey: ['jobs'] });
      void queryClient.invalidateQueries({ queryKey: ['connections'] });
      void queryClient.invalidateQueries({ queryKey: ['connection', connectionId] });
      navigate(paths.job(saved.id));
    },
  });
  const preview = usePreview((limit) => operatorApi.previewDraft(buildBody(), limit));
  // The fields show the refusal of the last action: saving, or previewing (its `job.<field>` paths as the form's).
  const [lastAction, setLastAction] = useState<'save' | 'preview'>('save');
  const formError =
    lastAction === 'save' ? save.error : isFieldRefusal(preview.mutation.error) ? preview.mutation.error : null;
  const err = (...p: string[]) => fieldErrorOf(formError, ...p);
  const shownPrefixes = [
    'name',
    'entityType',
    'localEntity',
    'direction',
    'mode',
    'schedule',
    'timezone',
    'retryOnFailure',
    'maxRetries',
    'timeoutMinutes',
    'conflictStrategy',
    'deletePolicy',
    // The threshold's field is shown only with a policy that deletes.
    ...(deletePolicy === 'ignore' ? [] : ['massDeleteThreshold']),
    'enabled',
    'fieldMappings',
  ];
  const shown = (path: string) =>
    shownPrefixes.some((p) => path === p || path.startsWith(`${p}.`)) &&
    // Mapping errors are shown on their row when the row exists.
    (!path.startsWith('fieldMappings.') || Number(path.split('.')[1]) < mappings.length);

  // Which side's fields a mapping reads and writes.
  const providerFields = et?.fields ?? [];
  const localFields = local?.fields ?? [];
  const allowedMappingDirections: ('inbound' | 'outbound')[] =
    direction === 'bidirectional' ? ['inbound', 'outbound'] : [direction];

  const addMapping = (m?: Partial<MappingRow>) =>
    setMappings((rows) => [
      ...rows,
      {
        key: ++rowKey,
        sourceField: '',
        targetField: '',
        transform: null,
        defaultValue: '',
        argsText: '',
        direction: allowedMappingDirections[0]!,
        ...m,
      },
    ]);
  const updateMapping = (key: number, patch: Partial<MappingRow>) =>
    setMappings((rows) => rows.map((r) => (r.key === key ? { ...r, ...patch } : r)));
  const removeMapping = (key: number) => setMappings((rows) => rows.filter((r) => r.key !== key));

  const mapSameNames = () => {
    const localNames = new Set(localFields.map((f) => f.name));
    const existing = new Set(mappings.map((m) => `${m.direction}:${m.sourceField}`));
    const next: MappingRow[] = [];
    for (const d of allowedMappingDirections) {
      for (const f of providerFields) {
        if (!localNames.has(f.name)) continue;
        if (existing.has(`${d}:${f.name}`)) continue;
        next.push({
          key: ++rowKey,
          sourceField: f.name,
          targetField: f.name,
          transform: null,
          defaultValue: '',
          argsText: '',
          direction: d,
        });
      }
    }
    setMappings((rows) => [...rows, ...next]);
  };

  const changeDirection = (d: Direction) => {
    setDirection(d);
    if (d !== 'bidirectional') setMappings((rows) => rows.map((r) => ({ ...r, direction: d })));
  };

  // Marking deleted where the job writes locally needs the local entity's soft-delete column.
  const writesLocal = direction !== 'outbound';
  const softDeleteUnavailable = writesLocal && local !== undefined && local.deletedAt === null;
  const deletedAtSource =
    direction === 'inbound'
      ? 'at the provider (the target is the local table)'
      : direction === 'outbound'
        ? 'in the local table (the target is the provider)'
        : 'on either side (the target is the other side)';

  const cronWords = scheduleKind === 'cron' ? cronToWords(cron) : null;
  const formRef = useFocusFirstError(formError);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setLastAction('save');
    save.mutate();
  };
  const startPreview = () => {
    setLastAction('preview');
    save.reset();
    preview.start();
  };

  return (
    <section aria-labelledby="job-form-title" className="narrow">
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link to={paths.connections()}>Connected apps</Link> /{' '}
        <Link to={paths.connection(connectionId)}>{connectionName}</Link>
        {editing && (
          <>
            {' / '}
            <Link to={paths.job(job.id)}>{job.name}</Link>
          </>
        )}
      </nav>
      <h1 id="job-form-title">{editing ? `Edit ${job.name}` : 'Add Sync Job'}</h1>
      <form
        ref={formRef}
        onSubmit={submit}
        noValidate
        className="form card"
        aria-label={editing ? 'Edit sync job' : 'Add Sync Job'}
      >
        {formError && <FormErrors error={formError} shownPaths={shown} />}

        <Field label="Name" required error={err('name')} help="A descriptive name, e.g. “Stripe Customer Sync”.">
          {(p) => <input {...p} name="name" value={name} required onChange={(e) => setName(e.target.value)} />}
        </Field>

        <div className="grid-2">
          <Field label="Entity type" required error={err('entityType')} help="What kind of provider data to sync.">
            {(p) => (
              <select
                {...p}
                name="entityType"
                value={entityType}
                onChange={(e) => {
                  // Follow the entity type with a matching local entity unless one was picked by hand.
                  if (localEntity === '' || localEntity === guessLocal(entityType)) {
                    setLocalEntity(guessLocal(e.target.value));
                  }
                  setEntityType(e.target.value);
                }}
              >
                {entityTypes.length === 0 && <option value="">(the provider lists no entity types)</option>}
                {entityTypes.map((t) => (
                  <option key={t.name} value={t.name}>
                    {t.label}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Local entity" required error={err('localEntity')} help="Where the records live on your side.">
            {(p) => (
              <select {...p} name="localEntity" value={localEntity} onChange={(e) => setLocalEntity(e.target.value)}>
                <option value="">Choose a local entity…</option>
                {localEntities.map((l) => (
                  <option key={l.name} value={l.name}>
                    {l.name} ({l.table})
                  </option>
                ))}
              </select>
            )}
          </Field>
        </div>

        <fieldset className={err('direction') ? 'field-invalid' : undefined} aria-describedby={`${uid}-dir-err`}>
          <legend>
            Direction <span className="required">*</span>
          </legend>
          <div className="choices">
            {DIRECTIONS.map((d) => {
              const unsupported =
                et &&
                ((d === 'inbound' && !et.supports.inbound) ||
                  (d === 'outbound' && !et.supports.outbound) ||
                  (d === 'bidirectional' && !(et.supports.inbound && et.supports.outbound)));
              return (
                <label key={d} className="choice">
                  <input
                    type="radio"
                    name="direction"
                    value={d}
                    checked={direction === d}
                    onChange={() => changeDirection(d)}
                  />
                  <span>
                    <strong>{DIRECTION_LABEL[d]}</strong>
                    <span className="help">
                      {DIRECTION_HELP[d]}
                      {unsupported ? ` Not supported by ${et.label}.` : ''}
                    </span>
                  </span>
                </label>
              );
            })}
          </div>
          {err('direction') && (
            <p className="field-error" id={`${uid}-dir-err`}>
              {err('direction')}
            </p>
          )}
        </fieldset>

        {direction === 'bidirectional' && (
          <Field
            label="Conflict strategy"
            required
            error={err('conflictStrategy')}
            help="When both sides changed the same record since the last sync. Manual review writes neither side: the record is listed as a conflict in the run, for you to review."
          >
            {(p) => (
              <select
                {...p}
                name="conflictStrategy"
                value={conflictStrategy}
                required
                onChange={(e) => setConflictStrategy(e.target.value as ConflictStrategy | '')}
              >
                <option value="">Choose a strategy…</option>
                {STRATEGIES.map((s) => (
                  <option key={s} value={s}>
                    {CONFLICT_LABEL[s]}
                  </option>
                ))}
              </select>
            )}
          </Field>
        )}
        {direction !== 'bidirectional' && err('conflictStrategy') && (
          <p className="field-error">Conflict strategy: {err('conflictStrategy')}</p>
        )}

        <fieldset className={err('mode') ? 'field-invalid' : undefined}>
          <legend>
            Mode <span className="required">*</span>
          </legend>
          <div className="choices">
            {MODES.map((m) => (
              <label key={m} className="choice">
                <input type="radio" name="mode" value={m} checked={mode === m} onChange={() => setMode(m)} />
                <span>
                  <strong>{capitalize(m)}</strong>
                  <span className="help">
                    {MODE_HELP[m]}
                    {m === 'incremental' && et && !et.supports.incremental ? ` Not supported by ${et.label}.` : ''}
                  </span>
                </span>
              </label>
            ))}
          </div>
          {err('mode') && <p className="field-error">{err('mode')}</p>}
        </fieldset>

        <fieldset
          className={`delete-policy${err('deletePolicy') ? ' field-invalid' : ''}`}
          aria-describedby={
            err('deletePolicy') || (deletePolicy === 'soft_delete' && softDeleteUnavailable)
              ? `${uid}-del-help ${uid}-del-err`
              : `${uid}-del-help`
          }
        >
          <legend>When a record is deleted at the source</legend>
          <p className="help" id={`${uid}-del-help`}>
            What a run does when a record it synced is deleted {deletedAtSource}.
          </p>
          <div className="choices">
            {DELETE_POLICIES.map((d) => {
              const unavailable = d === 'soft_delete' && softDeleteUnavailable;
              return (
                <label key={d} className={`choice${unavailable ? ' choice-disabled' : ''}`}>
                  <input
                    type="radio"
                    name="deletePolicy"
                    value={d}
                    checked={deletePolicy === d}
                    disabled={unavailable}
                    aria-invalid={err('deletePolicy') ? true : undefined}
                    onChange={() => setDeletePolicy(d)}
                  />
                  <span>
                    <strong>{DELETE_POLICY_LABEL[d]}</strong>
                    <span className="help">
                      {DELETE_POLICY_HELP[d]}
                      {d === 'ignore' && ' (The default.)'}
                      {d === 'soft_delete' && writesLocal && local?.deletedAt && (
                        <>
                          {' '}
                          Local entity {local.name} marks rows in its <code>{local.deletedAt}</code> column.
                        </>
                      )}
                      {unavailable && (
                        <span className="unavailable" data-testid="soft-delete-unavailable">
                          {' '}
                          Not available: local entity {local.name} ({local.table}) has no soft-delete column. Set{' '}
                          <code>"deletedAt"</code> in <code>localEntities.{local.name}</code> of the config file, or
                          choose Delete.
                        </span>
                      )}
                    </span>
                  </span>
                </label>
              );
            })}
          </div>
          {err('deletePolicy') ? (
            <p className="field-error" id={`${uid}-del-err`}>
              {err('deletePolicy')}
            </p>
          ) : (
            deletePolicy === 'soft_delete' &&
            softDeleteUnavailable && (
              <p className="notice notice-warn" id={`${uid}-del-err`}>
                Mark deleted needs a soft-delete column in local entity {local?.name}: choose another policy, or another
                local entity.
              </p>
            )
          )}
          {deletePolicy !== 'ignore' && (
            <Field
              label="Mass-delete protection (%)"
              error={err('massDeleteThreshold')}
              help={
                <>
                  A run that would delete more than this share of the job's synced records deletes nothing: it ends
                  “Completed with errors” and holds its deletions until you click Apply deletions on that execution.
                  More than 0 and at most 100 (default {DEFAULT_MASS_DELETE_THRESHOLD}); 100 turns the protection off.
                </>
              }
            >
              {(p) => (
                <input
                  {...p}
                  name="massDeleteThreshold"
                  type="number"
                  min={0}
                  max={100}
                  step="any"
                  inputMode="decimal"
                  value={massDeleteThreshold}
                  onChange={(e) => setMassDeleteThreshold(e.target.value)}
                />
              )}
            </Field>
          )}
        </fieldset>

        <fieldset className={err('schedule') ? 'field-invalid' : undefined}>
          <legend>Schedule</legend>
          <div className="choices">
            <label className="choice">
              <input
                type="radio"
                name="scheduleKind"
                value="manual"
                checked={scheduleKind === 'manual'}
                onChange={() => setScheduleKind('manual')}
              />
              <span>
                <strong>Manual only</strong>
                <span className="help">Runs when someone clicks Run Now (or a webhook arrives).</span>
              </span>
            </label>
            <label className="choice">
              <input
                type="radio"
                name="scheduleKind"
                value="cron"
                checked={scheduleKind === 'cron'}
                onChange={() => setScheduleKind('cron')}
              />
              <span>
                <strong>Cron schedule</strong>
                <span className="help">Minute, hour, day of month, month, day of week.</span>
              </span>
            </label>
          </div>
          {scheduleKind === 'cron' && (
            <>
              <fieldset className="presets">
                <legend className="sr-only">Schedule presets</legend>
                {CRON_PRESETS.map((p) => (
                  <button
                    type="button"
                    key={p.cron}
                    className={`chip${cron.trim() === p.cron ? ' chip-active' : ''}`}
                    aria-pressed={cron.trim() === p.cron}
                    onClick={() => setCron(p.cron)}
                  >
                    {p.label}
                  </button>
                ))}
              </fieldset>
              <div className="grid-2">
                <Field
                  label="Cron expression"
                  required
                  error={err('schedule')}
                  help={
                    <span aria-live="polite" data-testid="cron-preview">
                      {cronWords
                        ? `Runs ${cronWords}${timezone && timezone !== 'UTC' ? ` (${timezone})` : ' (UTC)'}.`
                        : cron.trim()
                          ? 'Custom expression (checked by the server when you save).'
                          : 'Enter an expression or pick a preset.'}
                    </span>
                  }
                >
                  {(p) => (
                    <input
                      {...p}
                      name="schedule"
                      className="mono"
                      value={cron}
                      spellCheck={false}
                      autoComplete="off"
                      required
                      onChange={(e) => setCron(e.target.value)}
                    />
                  )}
                </Field>
                <Field label="Time zone" error={err('timezone')} help="IANA name, e.g. Europe/Paris.">
                  {(p) => (
                    <>
                      <input
                        {...p}
                        name="timezone"
                        list={`${uid}-zones`}
                        value={timezone}
                        autoComplete="off"
                        onChange={(e) => setTimezone(e.target.value)}
                      />
                      <datalist id={`${uid}-zones`}>
                        {zones.map((z) => (
                          <option key={z} value={z} />
                        ))}
                      </datalist>
                    </>
                  )}
                </Field>
              </div>
            </>
          )}
          {scheduleKind === 'manual' && err('schedule', 'timezone') && (
            <p className="field-error">{err('schedule', 'timezone')}</p>
          )}
        </fieldset>

        <fieldset>
          <legend>Retries and timeout</legend>
          <div className={`field field-check${err('retryOnFailure') ? ' field-invalid' : ''}`}>
            <label>
              <input
                type="checkbox"
                name="retryOnFailure"
                checked={retryOnFailure}
                aria-describedby={`${uid}-retry-help`}
                onChange={(e) => setRetryOnFailure(e.target.checked)}
              />{' '}
              Retry on failure
            </label>
            <div className="help" id={`${uid}-retry-help`}>
              <p>
                <strong>Yes:</strong> a failed or timed-out run is run again automatically (up to Max retries, with
                growing delays), whoever started it, and records that failed are retried by the next runs, moving to the
                dead letter queue after failing in 3 runs. Runs that failed for a configuration reason (bad credentials,
                missing encryption key, unknown table) are not retried.
              </p>
              <p>
                <strong>No:</strong> nothing is retried automatically; failed records are only listed in the run's
                failures.
              </p>
            </div>
            {err('retryOnFailure') && <p className="field-error">{err('retryOnFailure')}</p>}
          </div>
          <div className="grid-2">
            <Field label="Max retries" error={err('maxRetries')} help="1–10 attempts (default 3).">
              {(p) => (
                <input
                  {...p}
                  name="maxRetries"
                  type="number"
                  min={1}
                  max={10}
                  step={1}
                  value={maxRetries}
                  disabled={!retryOnFailure}
                  onChange={(e) => setMaxRetries(e.target.value)}
                />
              )}
            </Field>
            <Field label="Timeout (minutes)" error={err('timeoutMinutes')} help="1–1440 minutes (default 60).">
              {(p) => (
                <input
                  {...p}
                  name="timeoutMinutes"
                  type="number"
                  min={1}
                  max={1440}
                  step={1}
                  value={timeoutMinutes}
                  onChange={(e) => setTimeoutMinutes(e.target.value)}
                />
              )}
            </Field>
          </div>
          <div className="field field-check">
            <label>
              <input type="checkbox" name="enabled" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} />{' '}
              Enabled (scheduled and webhook runs happen only while enabled; Run Now works either way)
            </label>
          </div>
        </fieldset>

        <fieldset className="mappings">
          <legend>Field mappings</legend>
          <p className="help">
            Source fields are read from the {direction === 'outbound' ? 'local entity' : 'provider'} and written to the
            target. A transform changes the value; the default fills in when the source is empty.
          </p>
          {err('fieldMappings') && !fieldErrorOf(formError, ...mappings.map((_, i) => `fieldMappings.${i}`)) && (
            <p className="field-error">{err('fieldMappings')}</p>
          )}
          <datalist id={`${uid}-provider-fields`}>
            {providerFields.map((f) => (
              <option key={f.name} value={f.name}>
                {f.label ?? f.name} ({f.type})
              </option>
            ))}
          </datalist>
          <datalist id={`${uid}-local-fields`}>
            {localFields.map((f) => (
              <option key={f.name} value={f.name}>
                {f.name} ({f.type})
              </option>
            ))}
          </datalist>
          {mappings.length === 0 ? (
            <p className="muted">No mappings: records are copied field by field under the same names.</p>
          ) : (
            <ol className="mapping-list">
              {mappings.map((m, i) => {
                const fromProvider = m.direction === 'inbound';
                const e = (f: string) => err(`fieldMappings.${i}.${f}`);
                const rowErr = fieldErrorOf(formError, `fieldMappings.${i}`);
                return (
                  <li
                    key={m.key}
                    className={`mapping${rowErr ? ' mapping-invalid' : ''}`}
                    aria-label={`Mapping ${i + 1}`}
                  >
                    {allowedMappingDirections.length > 1 && (
                      <Field label="Direction" error={e('direction')}>
                        {(p) => (
                          <select
                            {...p}
                            value={m.direction}
                            onChange={(ev) =>
                              updateMapping(m.key, { direction: ev.target.value as 'inbound' | 'outbound' })
                            }
                          >
                            <option value="inbound">Inbound</option>
                            <option value="outbound">Outbound</option>
                          </select>
                        )}
                      </Field>
                    )}
                    <Field label={`Source field (${fromProvider ? 'provider' : 'local'})`} error={e('sourceField')}>
                      {(p) => (
                        <input
                          {...p}
                          className="mono"
                          list={`${uid}-${fromProvider ? 'provider' : 'local'}-fields`}
                          value={m.sourceField}
                          placeholder="e.g. email or address.city"
                          autoComplete="off"
                          onChange={(ev) => updateMapping(m.key, { sourceField: ev.target.value })}
                        />
                      )}
                    </Field>
                    <span className="arrow" aria-hidden="true">
                      →
                    </span>
                    <Field label={`Target field (${fromProvider ? 'local' : 'provider'})`} error={e('targetField')}>
                      {(p) => (
                        <input
                          {...p}
                          className="mono"
                          list={`${uid}-${fromProvider ? 'local' : 'provider'}-fields`}
                          value={m.targetField}
                          autoComplete="off"
                          onChange={(ev) => updateMapping(m.key, { targetField: ev.target.value })}
                        />
                      )}
                    </Field>
                    <Field label="Transform" error={e('transform')}>
                      {(p) => (
                        <select
                          {...p}
                          value={m.transform ?? ''}
                          onChange={(ev) => updateMapping(m.key, { transform: ev.target.value || null, argsText: '' })}
                        >
                          <option value="">None</option>
                          {transforms.map((t) => (
                            <option key={t.name} value={t.name} title={t.description}>
                              {t.name}
                            </option>
                          ))}
                        </select>
                      )}
                    </Field>
                    {m.transform && (takesArgs(transforms.find((t) => t.name === m.transform)) || m.argsText) && (
                      <Field
                        label="Transform arguments (JSON)"
                        error={e('transformArgs')}
                        help={transforms.find((t) => t.name === m.transform)?.description}
                      >
                        {(p) => (
                          <input
                            {...p}
                            className="mono"
                            value={m.argsText}
                            placeholder={argsPlaceholder(transforms.find((t) => t.name === m.transform))}
                            autoComplete="off"
                            spellCheck={false}
                            onChange={(ev) => updateMapping(m.key, { argsText: ev.target.value })}
                          />
                        )}
                      </Field>
                    )}
                    <Field label="Default value" error={e('defaultValue')}>
                      {(p) => (
                        <input
                          {...p}
                          value={m.defaultValue}
                          placeholder="(none)"
                          autoComplete="off"
                          onChange={(ev) => updateMapping(m.key, { defaultValue: ev.target.value })}
                        />
                      )}
                    </Field>
                    <button
                      type="button"
                      className="btn btn-small btn-ghost remove"
                      aria-label={`Remove mapping ${i + 1}`}
                      onClick={() => removeMapping(m.key)}
                    >
                      Remove
                    </button>
                    {rowErr &&
                      !['sourceField', 'targetField', 'transform', 'transformArgs', 'defaultValue', 'direction'].some(
                        (f) => e(f),
                      ) && <p className="field-error mapping-error">{rowErr}</p>}
                  </li>
                );
              })}
            </ol>
          )}
          <div className="actions">
            <button type="button" className="btn btn-small" onClick={() => addMapping()}>
              Add mapping
            </button>
            <button
              type="button"
              className="btn btn-small"
              onClick={mapSameNames}
              disabled={providerFields.length === 0 || localFields.length === 0}
              title="Add a mapping for every field with the same name on both sides"
            >
              Map fields with the same name
            </button>
          </div>
        </fieldset>

        <div className="actions">
          <button type="submit" className="btn btn-primary" disabled={save.isPending}>
            {save.isPending ? 'Saving…' : editing ? 'Save changes' : 'Create sync job'}
          </button>
          <button
            type="button"
            className="btn"
            onClick={startPreview}
            disabled={preview.mutation.isPending}
            title="What a first run of these settings would do per record, writing nothing (nothing is saved)"
          >
            {preview.mutation.isPending ? 'Previewing…' : 'Preview'}
          </button>
          <Link to={editing ? paths.job(job.id) : paths.connection(connectionId)} className="btn">
            Cancel
          </Link>
        </div>
      </form>
      <PreviewPanel
        preview={preview}
        title="Preview of these settings"
        intro="What a run of the settings as they stand in the form would do with the first source records, per record: the action, the side written and the field changes. The form is not saved."
        fieldErrorsShownAbove
      />
    </section>
  );
}

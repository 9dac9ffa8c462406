/**
 * Alerts: notification channels (a signed webhook or a Slack incoming webhook) for every sync job or one, the
 * events each receives, "Send test", and a channel's delivery log with the receiver's status codes.
 * `/alerts` lists the channels; `/alerts/{id}` also shows that channel's delivery log.
 */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useId, useState } from 'react';
import { Link } from 'wouter';
import {
  type AlertDelivery,
  type AlertEvent,
  api,
  type ChannelInput,
  type Job,
  type NotificationChannel,
  type NotificationChannelWithSecret,
} from './api.ts';
import { navigate, paths } from './navigation.ts';
import {
  ConfirmButton,
  DateTime,
  Empty,
  ErrorState,
  Field,
  FormErrors,
  fieldErrorOf,
  Loading,
  Pager,
  useCursorPages,
  useDocumentTitle,
  useFocusFirstError,
} from './ui.tsx';

/** Every event, in the order the form lists them (the compiler checks that none is missing). */
const EVENT_LABEL = {
  'execution.failed': 'Run failed',
  'execution.timed_out': 'Run timed out',
  'circuit_breaker.tripped': 'Circuit breaker tripped',
  'execution.completed_with_errors': 'Run completed with errors',
  'dead_letter.added': 'Records entered the dead letter queue',
  'job.recovered': 'Job recovered',
} satisfies Record<AlertEvent, string>;
const EVENTS = Object.keys(EVENT_LABEL) as AlertEvent[];
const EVENT_HELP: Record<AlertEvent, string> = {
  'execution.failed': 'A run failed (bad credentials, provider down, every record refused)',
  'execution.timed_out': 'A run went past its timeout',
  'circuit_breaker.tripped': 'More than half of a run’s records failed: the run was halted',
  'execution.completed_with_errors': 'A run synced its records but some failed',
  'dead_letter.added': 'Records failed in three runs and were parked (one alert per run, with the count)',
  'job.recovered': 'The first successful run after a failing one, with what repeated meanwhile',
};
const DEFAULT_EVENTS: AlertEvent[] = [
  'execution.failed',
  'execution.timed_out',
  'circuit_breaker.tripped',
  'job.recovered',
];

const OUTCOME_LABEL: Record<AlertDelivery['outcome'], string> = {
  delivered: 'Delivered',
  retrying: 'Will retry',
  failed: 'Failed',
};
const OUTCOME_TONE: Record<AlertDelivery['outcome'], string> = { delivered: 'ok', retrying: 'warn', failed: 'bad' };

function OutcomeBadge({ outcome, statusCode }: { outcome: AlertDelivery['outcome']; statusCode: number | null }) {
  return (
    <span className={`badge badge-${OUTCOME_TONE[outcome]}`} data-outcome={outcome}>
      {OUTCOME_LABEL[outcome]}
      {statusCode !== null && ` · ${statusCode}`}
    </span>
  );
}

const eventLabel = (event: string) => (EVENT_LABEL as Record<string, string>)[event] ?? 'Test alert';

export function AlertsPage({ channelId }: { channelId?: string }) {
  useDocumentTitle('Alerts');
  const queryClient = useQueryClient();
  const [adding, setAdding] = useState(false);
  const [created, setCreated] = useState<NotificationChannelWithSecret | null>(null);
  const [notice, setNotice] = useState<{ ok: boolean; text: string } | null>(null);
  const channels = useQuery({ queryKey: ['channels'], queryFn: api.channels, refetchInterval: 15_000 });
  const jobs = useQuery({ queryKey: ['jobs', 'all'], queryFn: () => api.jobs(), staleTime: 30_000 });
  const jobName = (id: string | null) =>
    id === null ? 'All sync jobs' : (jobs.data?.find((j) => j.id === id)?.name ?? 'A sync job');

  const refresh = (id?: string) => {
    void queryClient.invalidateQueries({ queryKey: ['channels'] });
    if (id) void queryClient.invalidateQueries({ queryKey: ['deliveries', id] });
  };
  const test = useMutation({
    mutationFn: (c: NotificationChannel) => api.testChannel(c.id).then((d) => ({ channel: c, delivery: d })),
    onMutate: () => setNotice(null),
    onSuccess: ({ channel, delivery }) => {
      const ok = delivery.outcome === 'delivered';
      setNotice({
        ok,
        text: ok
          ? `Test alert delivered to ${channel.name} (HTTP ${delivery.statusCode}).`
          : `Test alert to ${channel.name} not delivered: ${delivery.error ?? delivery.outcome}.`,
      });
      refresh(channel.id);
      navigate(paths.alerts(channel.id), { focus: false });
    },
  });
  const toggle = useMutation({
    mutationFn: (c: NotificationChannel) => api.updateChannel(c.id, { enabled: !c.enabled }),
    onSuccess: (c) => refresh(c.id),
  });
  const remove = useMutation({
    mutationFn: (c: NotificationChannel) => api.deleteChannel(c.id).then(() => c),
    onSuccess: (c) => {
      setNotice({ ok: true, text: `Deleted ${c.name}.` });
      if (c.id === channelId) navigate(paths.alerts(), { focus: false });
      refresh();
    },
  });
  const selected = channels.data?.find((c) => c.id === channelId);

  return (
    <section aria-labelledby="alerts-title">
      <div className="page-header">
        <h1 id="alerts-title">Alerts</h1>
        {!adding && (
          <button
            type="button"
            className="btn btn-primary"
            onClick={() => {
              setAdding(true);
              setCreated(null);
            }}
          >
            Add channel
          </button>
        )}
      </div>
      <p className="subtitle">
        Where otesse-sync tells you that a sync broke, and that it recovered. A job is alerted once per change of state:
        a job that fails again is not alerted again; the repeats are counted and sent with the next alert or with the
        recovery.
      </p>

      {adding && (
        <ChannelForm
          jobs={jobs.data ?? []}
          onCancel={() => setAdding(false)}
          onCreated={(c) => {
            setAdding(false);
            setCreated(c);
            refresh();
          }}
        />
      )}
      {created && <SecretNotice channel={created} onDismiss={() => setCreated(null)} />}
      <div aria-live="polite">
        {notice && (
          <p className={`notice ${notice.ok ? 'notice-ok' : 'notice-bad'}`} role="status">
            {notice.text}
          </p>
        )}
        {(test.isError || toggle.isError || remove.isError) && (
          <ErrorState error={test.error ?? toggle.error ?? remove.error} title="The action failed" />
        )}
      </div>

      <section aria-labelledby="channels-title" className="panel">
        <h2 id="channels-title">Notification channels</h2>
        {channels.isPending ? (
          <Loading label="Loading notification channels…" />
        ) : channels.isError ? (
          <ErrorState error={channels.error} retry={() => channels.refetch()} />
        ) : channels.data.length === 0 ? (
          <Empty>
            No notification channels yet. Add one to be told when a sync fails, times out, trips its circuit breaker,
            parks records in the dead letter queue, or recovers.
          </Empty>
        ) : (
          <div className="table-wrap">
            <table className="table" aria-labelledby="channels-title">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Type</th>
                  <th scope="col">Sends to</th>
                  <th scope="col">Events</th>
                  <th scope="col">Jobs</th>
                  <th scope="col">Last delivery</th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {channels.data.map((c) => (
                  <tr key={c.id} data-channel-id={c.id} className={c.id === channelId ? 'row-expanded' : undefined}>
                    <th scope="row">
                      <Link to={paths.alerts(c.id)}>{c.name}</Link>
                      {!c.enabled && <span className="badge badge-neutral">Disabled</span>}
                    </th>
                    <td>{c.type === 'slack' ? 'Slack' : 'Webhook'}</td>
                    <td className="mono message">{c.url}</td>
                    <td>{c.events.map(eventLabel).join(', ')}</td>
                    <td>{jobName(c.jobId)}</td>
                    <td>
                      {c.lastDelivery ? (
                        <>
                          <OutcomeBadge outcome={c.lastDelivery.outcome} statusCode={c.lastDelivery.statusCode} />{' '}
                          <DateTime iso={c.lastDelivery.at} />
                        </>
                      ) : (
                        <span className="muted">Never</span>
                      )}
                    </td>
                    <td>
                      <div className="row-actions">
                        <button
                          type="button"
                          className="btn btn-small"
                          disabled={test.isPending}
                          onClick={() => test.mutate(c)}
                          aria-label={`Send test to ${c.name}`}
                        >
                          {test.isPending && test.variables?.id === c.id ? 'Sending…' : 'Send test'}
                        </button>
                        <Link
                          to={paths.alerts(c.id)}
                          className="btn btn-small"
                          aria-label={`Delivery log of ${c.name}`}
                        >
                          Delivery log
                        </Link>
                        <button
                          type="button"
                          className="btn btn-small"
                          disabled={toggle.isPending}
                          onClick={() => toggle.mutate(c)}
                          aria-label={`${c.enabled ? 'Disable' : 'Enable'} ${c.name}`}
                        >
                          {c.enabled ? 'Disable' : 'Enable'}
                        </button>
                        <ConfirmButton
                          className="btn btn-small btn-danger"
                          title={`Delete ${c.name}?`}
                          message="Its delivery log goes with it; alerts queued for it are dropped."
                          confirmLabel="Delete channel"
                          onConfirm={() => remove.mutate(c)}
                        >
                          Delete
                        </ConfirmButton>
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      {channelId &&
        (selected ? (
          <DeliveryLog channel={selected} />
        ) : channels.isSuccess ? (
          <ErrorState error={new Error(`No notification channel ${channelId}.`)} title="Not found" />
        ) : null)}
    </section>
  );
}

/** The signing secret of a new webhook channel: shown once, to copy into the receiver. */
function SecretNotice({ channel, onDismiss }: { channel: NotificationChannelWithSecret; onDismiss: () => void }) {
  return (
    <div className="notice notice-ok" role="status" data-testid="channel-created">
      <p>
        <strong>{channel.name}</strong> created.
      </p>
      {channel.signingSecret ? (
        <>
          <p>Its signing secret, shown this once: copy it now into your receiver.</p>
          <p>
            <code className="mono" data-testid="signing-secret">
              {channel.signingSecret}
            </code>
          </p>
          <p className="help">
            Each alert is a JSON POST with the header{' '}
            <code>Otesse-Signature: t=&lt;unix seconds&gt;,v1=&lt;hex HMAC-SHA256&gt;</code>, the HMAC of{' '}
            <code>&lt;t&gt;.&lt;raw body&gt;</code> keyed with this secret. Compare it in constant time and refuse old
            timestamps.
          </p>
        </>
      ) : (
        <p>Slack messages are not signed: the incoming webhook URL is the secret (it is masked here).</p>
      )}
      <button type="button" className="btn btn-small" onClick={onDismiss}>
        Done
      </button>
    </div>
  );
}

function ChannelForm({
  jobs,
  onCancel,
  onCreated,
}: {
  jobs: Job[];
  onCancel: () => void;
  onCreated: (c: NotificationChannelWithSecret) => void;
}) {
  const uid = useId();
  const [name, setName] = useState('');
  const [type, setType] = useState<ChannelInput['type']>('webhook');
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState<AlertEvent[]>(DEFAULT_EVENTS);
  const [jobId, setJobId] = useState('');
  const create = useMutation({ mutationFn: api.createChannel, onSuccess: onCreated });
  const formRef = useFocusFirstError(create.error);
  const err = (...p: string[]) => fieldErrorOf(create.error, ...p);
  const shown = ['name', 'type', 'url', 'events', 'jobId'];

  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate({ name, type, url, events, jobId: jobId === '' ? null : jobId });
  };
  const toggleEvent = (event: AlertEvent) =>
    setEvents((list) => (list.includes(event) ? list.filter((x) => x !== event) : [...list, event]));

  return (
    <form ref={formRef} className="form panel" onSubmit={submit} aria-labelledby={`${uid}-title`} noValidate>
      <h2 id={`${uid}-title`}>New notification channel</h2>
      <FormErrors error={create.error} shownPaths={(p) => shown.some((s) => p === s || p.startsWith(`${s}.`))} />
      <Field label="Name" required error={err('name')}>
        {(p) => (
          <input {...p} name="name" value={name} onChange={(e) => setName(e.target.value)} placeholder="On-call" />
        )}
      </Field>
      <fieldset className={err('type') ? 'field-invalid' : undefined}>
        <legend>
          Type <span className="required">*</span>
        </legend>
        <div className="choices">
          <label className="choice">
            <input
              type="radio"
              name="type"
              value="webhook"
              checked={type === 'webhook'}
              onChange={() => setType('webhook')}
            />
            <span>
              <strong>Webhook</strong>
              <span className="help">A signed JSON POST to your endpoint (Otesse-Signature header)</span>
            </span>
          </label>
          <label className="choice">
            <input
              type="radio"
              name="type"
              value="slack"
              checked={type === 'slack'}
              onChange={() => setType('slack')}
            />
            <span>
              <strong>Slack</strong>
              <span className="help">A readable message through a Slack incoming webhook, with a link to the run</span>
            </span>
          </label>
        </div>
      </fieldset>
      <Field
        label="URL"
        required
        error={err('url')}
        help={
          type === 'slack'
            ? 'The incoming webhook URL from Slack (https://hooks.slack.com/services/…).'
            : 'Where alerts are POSTed. No user name or password in it: check the signature instead.'
        }
      >
        {(p) => (
          <input
            {...p}
            name="url"
            type="url"
            value={url}
            onChange={(e) => setUrl(e.target.value)}
            placeholder={type === 'slack' ? 'https://hooks.slack.com/services/…' : 'https://ops.example.com/hooks/sync'}
          />
        )}
      </Field>
      <fieldset className={err('events') ? 'field-invalid' : undefined} aria-describedby={`${uid}-events-err`}>
        <legend>
          Events <span className="required">*</span>
        </legend>
        <div className="choices">
          {EVENTS.map((event) => (
            <label key={event} className="choice">
              <input
                type="checkbox"
                name="events"
                value={event}
                checked={events.includes(event)}
                onChange={() => toggleEvent(event)}
              />
              <span>
                <strong>{EVENT_LABEL[event]}</strong>
                <span className="help">{EVENT_HELP[event]}</span>
              </span>
            </label>
          ))}
        </div>
        {err('events') && (
          <p className="field-error" id={`${uid}-events-err`}>
            {err('events')}
          </p>
        )}
      </fieldset>
      <Field label="Sync jobs" error={err('jobId')} help="Alerts of every job, or of one job only.">
        {(p) => (
          <select {...p} name="jobId" value={jobId} onChange={(e) => setJobId(e.target.value)}>
            <option value="">All sync jobs</option>
            {jobs.map((j) => (
              <option key={j.id} value={j.id}>
                {j.name}
              </option>
            ))}
          </select>
        )}
      </Field>
      <div className="actions">
        <button type="button" className="btn" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" className="btn btn-primary" disabled={create.isPending}>
          {create.isPending ? 'Creating…' : 'Create channel'}
        </button>
      </div>
    </form>
  );
}

const PAGE_SIZE = 20;

/** A channel's delivery attempts, newest first, with the receiver's status codes. */
function DeliveryLog({ channel }: { channel: NotificationChannel }) {
  const pages = useCursorPages(channel.id);
  const log = useQuery({
    queryKey: ['deliveries', channel.id, pages.cursor],
    queryFn: () => api.deliveries(channel.id, { limit: PAGE_SIZE, cursor: pages.cursor }),
    placeholderData: keepPreviousData,
    refetchInterval: 10_000,
  });
  const items = log.data?.items ?? [];
  return (
    <section aria-labelledby="deliveries-title" className="panel">
      <h2 id="deliveries-title">Delivery log · {channel.name}</h2>
      <p className="help">
        One row per attempt. A delivery the receiver refuses (not 2xx) or does not answer is tried again later, each
        wait longer than the last; the newest 500 attempts are kept.
      </p>
      {log.isPending ? (
        <Loading label="Loading deliveries…" />
      ) : log.isError ? (
        <ErrorState error={log.error} retry={() => log.refetch()} />
      ) : items.length === 0 ? (
        <Empty>Nothing delivered yet. Use Send test to check the channel.</Empty>
      ) : (
        <>
          <div className="table-wrap">
            <table className="table" aria-labelledby="deliveries-title">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Event</th>
                  <th scope="col" className="num">
                    Attempt
                  </th>
                  <th scope="col">Outcome</th>
                  <th scope="col">Summary</th>
                </tr>
              </thead>
              <tbody>
                {items.map((d) => (
                  <tr key={d.id} data-delivery-id={d.id} data-outcome={d.outcome}>
                    <td>
                      <DateTime iso={d.createdAt} />
                    </td>
                    <td>{eventLabel(d.event)}</td>
                    <td className="num">{d.attempt}</td>
                    <td data-col="status">
                      <OutcomeBadge outcome={d.outcome} statusCode={d.statusCode} />
                    </td>
                    <td className="message">
                      {d.summary}
                      {d.jobId && d.executionId && (
                        <>
                          {' '}
                          <Link to={paths.execution(d.jobId, d.executionId)}>View execution</Link>
                        </>
                      )}
                      {d.error && <div className="text-bad small">{d.error}</div>}
                      {d.responseExcerpt && d.outcome !== 'delivered' && (
                        <div className="muted small">
                          Answer: <span className="mono">{d.responseExcerpt}</span>
                        </div>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager
            label="Delivery log pages"
            page={pages.page}
            hasPrev={pages.hasPrev}
            hasNext={Boolean(log.data?.nextCursor)}
            onPrev={pages.prev}
            onNext={() => pages.next(log.data?.nextCursor ?? null)}
          />
        </>
      )}
    </section>
  );
}

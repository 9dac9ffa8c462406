/**
 * The fleet overview, the console's first screen: what an operator of many jobs needs at a glance. The fleet's
 * size and activity, runs per hour by status over the last 24 hours (a stacked bar per hour, with the same figures
 * as a table), the jobs failing now (each links to the job and its failed run), and the open dead letters by job.
 * One request (GET /fleet/overview), refreshed every 15 seconds.
 */
import { useQuery } from '@tanstack/react-query';
import { Link } from 'wouter';
import { api, EXECUTION_STATUSES, type ExecutionStatus, type FleetOverview } from './api.ts';
import { paths } from './navigation.ts';
import { DateTime, Empty, ErrorState, Loading, StatusBadge, statusLabel, useDocumentTitle } from './ui.tsx';

/** Bottom to top: how runs ended, then the ones still going. */
const STACK_ORDER: ExecutionStatus[] = [
  'completed',
  'completed_with_errors',
  'failed',
  'timed_out',
  'cancelled',
  'running',
  'queued',
];
/** What the failing jobs' streaks are counted up to (the server's cap). */
const STREAK_CAP = 100;

export function FleetOverviewPage() {
  useDocumentTitle('Fleet overview');
  const overview = useQuery({ queryKey: ['fleet'], queryFn: api.fleetOverview, refetchInterval: 15_000 });
  return (
    <section aria-labelledby="fleet-title" className="fleet">
      <div className="page-header">
        <div>
          <h1 id="fleet-title">Fleet overview</h1>
          {overview.data && (
            <p className="subtitle">
              As of <DateTime iso={overview.data.at} />
            </p>
          )}
        </div>
        <Link to={paths.connections()} className="btn">
          Connected apps
        </Link>
      </div>
      {overview.isPending ? (
        <Loading label="Loading the fleet overview…" />
      ) : overview.isError ? (
        <ErrorState error={overview.error} retry={() => overview.refetch()} />
      ) : (
        <>
          <Totals o={overview.data} />
          <RunsPerHour hours={overview.data.hours} />
          <FailingNow failing={overview.data.failingJobs} />
          <DeadLetters letters={overview.data.deadLetters} />
        </>
      )}
    </section>
  );
}

function Totals({ o }: { o: FleetOverview }) {
  const n = (x: number) => x.toLocaleString();
  const t = o.totals;
  return (
    <dl className="tiles" aria-label="Fleet totals">
      <div data-testid="total-connections">
        <dt>Connected apps</dt>
        <dd>
          <Link to={paths.connections()}>{n(t.connections)}</Link>
        </dd>
      </div>
      <div data-testid="total-jobs">
        <dt>Sync jobs</dt>
        <dd>
          {n(t.jobs)} <span className="muted">({n(t.enabledJobs)} enabled)</span>
        </dd>
      </div>
      <div data-testid="total-running">
        <dt>Running now</dt>
        <dd>{n(t.runningNow)}</dd>
      </div>
      <div data-testid="total-queued">
        <dt>Queued</dt>
        <dd>{n(t.queuedNow)}</dd>
      </div>
      <div data-testid="total-failing" className={o.failingJobs.total > 0 ? 'tile-bad' : undefined}>
        <dt>Failing jobs</dt>
        <dd>
          <a href="#failing-title">{n(o.failingJobs.total)}</a>
        </dd>
      </div>
      <div data-testid="total-dead-letters" className={o.deadLetters.open > 0 ? 'tile-warn' : undefined}>
        <dt>Open dead letters</dt>
        <dd>
          <a href="#dead-letters-title">{n(o.deadLetters.open)}</a>
        </dd>
      </div>
    </dl>
  );
}

const hourLabel = (iso: string) => new Date(iso).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });

/** Stacked bars in an SVG (a fixed drawing scaled to the width), with the same figures as a table below it. */
function RunsPerHour({ hours }: { hours: FleetOverview['hours'] }) {
  const total = hours.reduce((sum, h) => sum + h.total, 0);
  const max = Math.max(1, ...hours.map((h) => h.total));
  /** One column per hour, in a drawing that scales to the page's width. */
  const COLUMN = 40;
  const W = hours.length * COLUMN;
  const H = 150;
  const barWidth = 28;
  const byStatus = EXECUTION_STATUSES.map((s) => ({
    status: s,
    count: hours.reduce((sum, h) => sum + h.statuses[s], 0),
  })).filter((x) => x.count > 0);
  const summary =
    total === 0
      ? 'No runs in the last 24 hours'
      : `${total.toLocaleString()} runs in the last 24 hours: ${byStatus
          .map((x) => `${x.count.toLocaleString()} ${statusLabel(x.status).toLowerCase()}`)
          .join(', ')}`;
  return (
    <section aria-labelledby="runs-title" className="panel">
      <div className="section-header">
        <h2 id="runs-title">Runs per hour</h2>
        <p className="muted">Last 24 hours, by status · {total.toLocaleString()} runs</p>
      </div>
      <figure className="runs-chart" data-testid="runs-chart" data-total={total}>
        <svg viewBox={`-16 0 ${W + 32} ${H + 18}`} role="img" aria-label={summary}>
          <line x1={0} x2={W} y1={H} y2={H} className="axis" />
          {hours.map((h, i) => {
            let y = H;
            const x = i * COLUMN + (COLUMN - barWidth) / 2;
            return (
              <g key={h.hour} data-hour={h.hour} data-total={h.total}>
                <title>
                  {`${hourLabel(h.hour)}: ${h.total} run${h.total === 1 ? '' : 's'}${STACK_ORDER.filter(
                    (s) => h.statuses[s] > 0,
                  )
                    .map((s) => `, ${h.statuses[s]} ${statusLabel(s).toLowerCase()}`)
                    .join('')}`}
                </title>
                {/* Hover target: the whole column, so an hour with few runs is easy to point at. */}
                <rect x={i * COLUMN} y={0} width={COLUMN} height={H} className="hover-target" />
                {STACK_ORDER.map((s) => {
                  const n = h.statuses[s];
                  if (n === 0) return null;
                  const height = Math.max(1, (n / max) * (H - 6));
                  y -= height;
                  return <rect key={s} x={x} y={y} width={barWidth} height={height} className={`seg seg-${s}`} />;
                })}
                {i % 3 === 0 && (
                  <text x={i * COLUMN + COLUMN / 2} y={H + 14} textAnchor="middle" className="tick">
                    {hourLabel(h.hour)}
                  </text>
                )}
              </g>
            );
          })}
        </svg>
        <figcaption>
          <ul className="legend">
            {STACK_ORDER.map((s) => (
              <li key={s}>
                <span className={`swatch seg-${s}`} aria-hidden="true" />
                {statusLabel(s)}
              </li>
            ))}
          </ul>
        </figcaption>
      </figure>
      <details className="runs-table">
        <summary>Show as a table</summary>
        <div className="table-wrap">
          <table className="table table-compact" data-testid="runs-table">
            <caption className="sr-only">Runs per hour by status</caption>
            <thead>
              <tr>
                <th scope="col">Hour</th>
                {STACK_ORDER.map((s) => (
                  <th key={s} scope="col" className="num">
                    {statusLabel(s)}
                  </th>
                ))}
                <th scope="col" className="num">
                  Total
                </th>
              </tr>
            </thead>
            <tbody>
              {hours.map((h) => (
                <tr key={h.hour} data-hour={h.hour}>
                  <th scope="row">
                    <DateTime iso={h.hour} />
                  </th>
                  {STACK_ORDER.map((s) => (
                    <td key={s} className="num" data-status={s}>
                      {h.statuses[s]}
                    </td>
                  ))}
                  <td className="num" data-col="total">
                    {h.total}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </section>
  );
}

function FailingNow({ failing }: { failing: FleetOverview['failingJobs'] }) {
  return (
    <section aria-labelledby="failing-title" className="panel">
      <div className="section-header">
        <h2 id="failing-title">
          Failing now <span className="count">{failing.total.toLocaleString()}</span>
        </h2>
      </div>
      <p className="help">Jobs whose last finished run failed or timed out, the newest failures first.</p>
      {failing.items.length === 0 ? (
        <Empty>No job is failing.</Empty>
      ) : (
        <>
          <div className="table-wrap">
            <table className="table" data-testid="failing-jobs">
              <caption className="sr-only">Jobs failing now</caption>
              <thead>
                <tr>
                  <th scope="col">Job</th>
                  <th scope="col">Connected app</th>
                  <th scope="col">Last run</th>
                  <th scope="col">Ended</th>
                  <th scope="col" className="num">
                    In a row
                  </th>
                  <th scope="col">Reason</th>
                </tr>
              </thead>
              <tbody>
                {failing.items.map((f) => (
                  <tr key={f.jobId} data-job-id={f.jobId}>
                    <th scope="row">
                      <Link to={paths.job(f.jobId)}>{f.jobName}</Link>
                      {!f.enabled && (
                        <>
                          {' '}
                          <StatusBadge status="disabled" />
                        </>
                      )}
                    </th>
                    <td>
                      <Link to={paths.connection(f.connectionId)}>{f.connectionName}</Link>
                    </td>
                    <td>
                      <Link to={paths.execution(f.jobId, f.executionId)} aria-label={`Failed run of ${f.jobName}`}>
                        <StatusBadge status={f.lastStatus} reason={f.haltReason} />
                      </Link>
                    </td>
                    <td>
                      <DateTime iso={f.lastRunAt} />
                    </td>
                    <td className="num" data-col="streak">
                      {f.consecutiveFailures >= STREAK_CAP ? `${STREAK_CAP}+` : f.consecutiveFailures}
                    </td>
                    <td className="message">{f.haltReason ?? <span className="muted">—</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {failing.total > failing.items.length && (
            <p className="muted">
              The {failing.items.length} newest of {failing.total.toLocaleString()} failing jobs.
            </p>
          )}
        </>
      )}
    </section>
  );
}

function DeadLetters({ letters }: { letters: FleetOverview['deadLetters'] }) {
  return (
    <section aria-labelledby="dead-letters-title" className="panel">
      <div className="section-header">
        <h2 id="dead-letters-title">
          Open dead letters <span className="count">{letters.open.toLocaleString()}</span>
        </h2>
      </div>
      {letters.open === 0 ? (
        <Empty>No dead letters. Nothing needs attention.</Empty>
      ) : (
        <>
          <p className="help">
            Records that failed in three runs, parked until a person retries or discards them on their job’s page
            {letters.jobs > letters.byJob.length
              ? ` (${letters.jobs.toLocaleString()} jobs hold them; the ${letters.byJob.length} holding the most are listed).`
              : '.'}
          </p>
          <div className="table-wrap">
            <table className="table table-compact" data-testid="dead-letter-jobs">
              <caption className="sr-only">Jobs with open dead letters</caption>
              <thead>
                <tr>
                  <th scope="col">Job</th>
                  <th scope="col">Connected app</th>
                  <th scope="col" className="num">
                    Open
                  </th>
                </tr>
              </thead>
              <tbody>
                {letters.byJob.map((d) => (
                  <tr key={d.jobId} data-job-id={d.jobId}>
                    <th scope="row">
                      <Link to={paths.job(d.jobId)}>{d.jobName}</Link>
                    </th>
                    <td>{d.connectionName}</td>
                    <td className="num">{d.open.toLocaleString()}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}

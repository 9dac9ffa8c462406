/**
 * "Test stream" for one entity type of the REST form (issue 16): reads a few pages with the unsaved config and
 * shows what came back (records as a table, each request with its status and time, problems in words) and what
 * the server detected, which "Use detected" copies into the entity type's inputs.
 */
import { useMutation } from '@tanstack/react-query';
import { ApiError } from './api.ts';
import { type DetectedShape, restApi, type StreamTest } from './rest-builder-api.ts';
import type { Config } from './rest-draft.ts';
import { errorMessage } from './ui.tsx';

/** The table shows this many records and columns at most (the first ones; the rest is counted). */
const MAX_ROWS = 20;
const MAX_COLUMNS = 10;
const MAX_CELL = 60;

function cellText(v: unknown): string {
  const s = v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > MAX_CELL ? `${s.slice(0, MAX_CELL - 1)}…` : s;
}

/** The union of the records' top-level keys, in the order first seen. */
function columnsOf(records: Record<string, unknown>[]): string[] {
  const seen = new Set<string>();
  for (const r of records) for (const k of Object.keys(r)) seen.add(k);
  return [...seen];
}

/** The detected pagination in words, e.g. "cursor: sends after, next cursor at next". */
export function paginationInWords(p: Record<string, unknown>): string {
  const v = (k: string) => (typeof p[k] === 'string' || typeof p[k] === 'number' ? String(p[k]) : null);
  switch (p.style) {
    case 'cursor':
      return `cursor: sends ${v('cursorParam') ?? '?'}, next cursor at ${v('cursorPath') ?? '?'}`;
    case 'offset':
      return `offset: ${v('offsetParam') ?? '?'} and ${v('limitParam') ?? '?'}`;
    case 'page':
      return `page number: ${v('pageParam') ?? '?'} and ${v('limitParam') ?? '?'}`;
    case 'link':
      return 'Link header';
    default:
      return JSON.stringify(p);
  }
}

/** A message of the server's with `backticked` names shown as code. */
export function Words({ text }: { text: string }) {
  const parts = text.split('`');
  // An odd count of backticks leaves the last one as text.
  if (parts.length % 2 === 0) return <>{text}</>;
  // biome-ignore lint/suspicious/noArrayIndexKey: the parts of one fixed text
  return <>{parts.map((p, i) => (i % 2 === 1 ? <code key={i}>{p}</code> : p))}</>;
}

function hasDetected(d: DetectedShape): boolean {
  return d.recordsPath !== null || d.idField !== null || d.updatedAtField !== null || d.pagination !== null;
}

export function StreamTestPanel({
  entityName,
  request,
  onUseDetected,
  credentialsHint,
}: {
  entityName: string;
  /** The form as it stands, read when the button is pressed. */
  request: () => { config: Config; credentials: Record<string, string> };
  onUseDetected: (detected: DetectedShape) => void;
  /** Said under the button, e.g. that stored credentials are not used by a test. */
  credentialsHint?: string;
}) {
  const test = useMutation({
    mutationFn: () => restApi.testStream({ ...request(), entityType: entityName.trim() }),
  });
  const result = test.data;
  return (
    <div className="rest-test">
      <div className="stack-inline">
        <button
          type="button"
          className="btn"
          disabled={test.isPending || entityName.trim() === ''}
          onClick={() => test.mutate()}
        >
          {test.isPending ? 'Testing…' : 'Test stream'}
        </button>
        <span className="help">Reads a few pages with the settings above (not saved yet); writes nothing.</span>
      </div>
      {credentialsHint && <p className="help">{credentialsHint}</p>}
      <div aria-live="polite">
        {test.isError && <TestError error={test.error} />}
        {result && !test.isPending && (
          <StreamResult
            result={result}
            onUseDetected={() => onUseDetected(result.detected)}
            label={`Test of ${entityName.trim()}`}
          />
        )}
      </div>
    </div>
  );
}

function TestError({ error }: { error: unknown }) {
  const details = error instanceof ApiError ? error.details : [];
  return (
    <div className="notice notice-bad" role="alert">
      <strong>The test could not run.</strong> {errorMessage(error)}
      {details.length > 0 && (
        <ul>
          {details.map((d) => (
            <li key={d.path + d.message}>
              <code>{d.path || '(request)'}</code> {d.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function StreamResult({
  result,
  onUseDetected,
  label,
}: {
  result: StreamTest;
  onUseDetected: () => void;
  label: string;
}) {
  const columns = columnsOf(result.records);
  const shownColumns = columns.slice(0, MAX_COLUMNS);
  const rows = result.records.slice(0, MAX_ROWS);
  const d = result.detected;
  return (
    <section className="rest-test-result" aria-label={label} data-ok={result.ok}>
      <p className={`notice ${result.ok && result.problems.length === 0 ? 'notice-ok' : 'notice-warn'}`} role="status">
        <strong>
          {result.ok ? 'The stream works.' : 'The stream does not work yet.'}{' '}
          {`Read ${result.records.length} record${result.records.length === 1 ? '' : 's'} in ${result.pages.length} request${result.pages.length === 1 ? '' : 's'} (${result.timing.totalMs} ms).`}
        </strong>{' '}
        {result.nextCursor ? (
          <span>
            More pages follow (next cursor <code>{result.nextCursor}</code>).
          </span>
        ) : (
          <span>No further page.</span>
        )}
      </p>
      {result.problems.length > 0 && (
        <div className="rest-problems">
          <h4>Problems</h4>
          <ul>
            {result.problems.map((p) => (
              <li key={p}>
                <Words text={p} />
              </li>
            ))}
          </ul>
        </div>
      )}
      {(result.notes ?? []).length > 0 && (
        <div className="rest-notes">
          <h4>Notes</h4>
          <ul>
            {result.notes!.map((n) => (
              <li key={n}>
                <Words text={n} />
              </li>
            ))}
          </ul>
        </div>
      )}
      {hasDetected(d) && (
        <div className="rest-detected">
          <h4>Detected</h4>
          <dl className="props props-compact">
            <div>
              <dt>Records path</dt>
              <dd>{d.recordsPath === null ? '—' : <code>{d.recordsPath || '(the body)'}</code>}</dd>
            </div>
            <div>
              <dt>ID field</dt>
              <dd>{d.idField === null ? '—' : <code>{d.idField}</code>}</dd>
            </div>
            <div>
              <dt>Updated-at field</dt>
              <dd>{d.updatedAtField === null ? '—' : <code>{d.updatedAtField}</code>}</dd>
            </div>
            <div>
              <dt>Pagination</dt>
              <dd>{d.pagination === null ? '—' : paginationInWords(d.pagination)}</dd>
            </div>
          </dl>
          <button type="button" className="btn btn-small" onClick={onUseDetected}>
            Use detected
          </button>
        </div>
      )}
      {result.pages.length > 0 && (
        <div className="table-wrap">
          <table className="table table-compact">
            <caption>Requests</caption>
            <thead>
              <tr>
                <th scope="col">URL</th>
                <th scope="col" className="num">
                  Status
                </th>
                <th scope="col" className="num">
                  Time
                </th>
                <th scope="col" className="num">
                  Records
                </th>
              </tr>
            </thead>
            <tbody>
              {result.pages.map((p, i) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: the same URL may be asked twice; the order is the key
                <tr key={i} data-status={p.status}>
                  <td>
                    <code className="rest-url-code">{p.url}</code>
                  </td>
                  <td className={`num${p.status >= 400 ? ' text-bad' : ''}`}>{p.status}</td>
                  <td className="num">{p.ms} ms</td>
                  <td className="num">{p.recordCount}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {rows.length > 0 && (
        <div className="table-wrap rest-records">
          <table className="table table-compact" data-testid="stream-records">
            <caption>
              Records
              {result.records.length > rows.length ? ` (the first ${rows.length} of ${result.records.length})` : ''}
              {columns.length > shownColumns.length
                ? `; ${columns.length - shownColumns.length} more fields not shown`
                : ''}
            </caption>
            <thead>
              <tr>
                {shownColumns.map((c) => (
                  <th key={c} scope="col">
                    {c}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map((r, i) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: records may lack an id; their order is the key
                <tr key={i}>
                  {shownColumns.map((c) => (
                    <td
                      key={c}
                      className="rest-cell"
                      title={typeof r[c] === 'object' && r[c] !== null ? JSON.stringify(r[c]) : undefined}
                    >
                      {cellText(r[c])}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

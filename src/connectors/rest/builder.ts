/**
 * "Test stream": reads the first page (and the second, when there is one) of one entity type of an unsaved REST
 * connection, through the connector's own read path (the same request building, auth, pagination and HTTP client
 * a run uses, behind the same outbound guard), and says in words what is wrong and what the answer suggests.
 *
 * Only invalid input is an error (ValidationError naming the field); whatever the API answers — 401, 404, a wrong
 * records path, a refused address, pagination that does not advance — is reported as `problems`. Secrets never
 * leave: URLs lose their user info and the auth query parameter, and every credential value is masked in texts.
 */
import { z } from 'zod';
import { errorMessage, ProviderError, ValidationError } from '../../domain/errors.ts';
import { parseInput } from '../../domain/validate.ts';
import type { EndpointRecord, ReadPage } from '../../engine/endpoint.ts';
import { atPath } from '../http/pagination.ts';
import {
  arraysOfObjects,
  describeArray,
  describeBody,
  describeKeys,
  detectIdField,
  detectPagination,
  detectRecordsPath,
  detectUpdatedAtField,
  isDateLike,
  type PaginationProposal,
  saysMore,
} from './detect.ts';
import { createRestProvider, type RestConfig, restConfigSchema } from './index.ts';

/** Longest wait for one answer (a config's own `timeoutMs` applies when shorter). */
export const STREAM_TEST_TIMEOUT_MS = 15_000;
/** Records of the first page returned to the caller. */
export const STREAM_TEST_MAX_RECORDS = 50;
/** The page size a run asks for by default (the engine's `pageSize`). */
const DEFAULT_PAGE_SIZE = 100;

/** The request: an unsaved connection's config and credentials (as `POST /connections` takes them), one entity type. */
export const streamTestInput = z.strictObject({
  config: restConfigSchema,
  credentials: z.record(z.string(), z.string()).default({}),
  entityType: z.string().min(1),
  /** Records asked per page (the limit parameter). Default 100, a run's default. */
  pageSize: z.int().min(1).max(1000).optional(),
});

export interface StreamTestPage {
  /** The URL requested, without credentials. */
  url: string;
  /** The HTTP status; 0 when no answer came (refused by the outbound guard, unreachable, timed out). */
  status: number;
  ms: number;
  /** Records at the records path (0 when there is no list there). */
  recordCount: number;
  /** The cursor this page gave for the next one (null: last page, or the page failed). */
  nextCursor: string | null;
}

export interface StreamTestResult {
  /** True when the stream reads as configured: no problems. */
  ok: boolean;
  pages: StreamTestPage[];
  /** The first page's records (at the records path, or where detection found them), at most 50. */
  records: Record<string, unknown>[];
  detected: {
    recordsPath: string | null;
    idField: string | null;
    updatedAtField: string | null;
    /** A pagination config proposed from the first answer (a next-cursor field, a Link header, total pages). */
    pagination: PaginationProposal | null;
  };
  /** The cursor (offset, page number, link) a run would request next after the pages read; null: no more. */
  nextCursor: string | null;
  /** What is wrong, in words. Empty when ok. */
  problems: string[];
  /** What is worth knowing but not wrong (the first page was the last one, a guess to check). */
  notes: string[];
  timing: { totalMs: number };
}

/** One HTTP exchange as the recording fetch saw it. */
interface Exchange {
  url: string;
  method: string;
  status: number;
  ms: number;
  text: string | null;
  contentType: string | null;
  headers: Headers | null;
}

const NULL_BODY = new Set([204, 205, 304]);

/**
 * Tests one entity type of an unsaved REST connection. `fetch` is the server's guarded fetch (see
 * `restProviderFetch`): where the run's requests may go, the test's may go. Throws ValidationError for bad input.
 */
export async function testRestStream(input: unknown, options: { fetch: typeof fetch }): Promise<StreamTestResult> {
  const started = performance.now();
  const { config, credentials, entityType, pageSize = DEFAULT_PAGE_SIZE } = parseInput(streamTestInput, input);
  const entity = config.entities[entityType];
  if (!entity) {
    const names = Object.keys(config.entities);
    throw new ValidationError([
      {
        path: 'entityType',
        message: names.length
          ? `must be one of ${names.join(', ')} (the config's entities)`
          : 'names no entity: config.entities is empty',
      },
    ]);
  }
  const missing = requiredCredentials(config).filter((k) => !credentials[k]);
  if (missing.length > 0) {
    throw new ValidationError(
      missing.map((k) => ({ path: `credentials.${k}`, message: `is required for ${config.auth.type} auth` })),
    );
  }

  // Credential values, and user info in the base URL (fetch quotes such a URL in its error), are masked in texts.
  const base = new URL(config.baseUrl);
  const secrets = [
    ...Object.values(credentials),
    base.username,
    base.password,
    safeDecode(base.username),
    safeDecode(base.password),
  ]
    .filter((v) => v.length >= 3)
    .sort((a, b) => b.length - a.length);
  const authQuery = config.auth.type === 'query' ? config.auth.name : null;
  const mask = (text: string) => secrets.reduce((t, s) => t.split(s).join('***'), text);
  const cleanUrl = (url: string) => mask(withoutCredentials(url, authQuery));

  const exchanges: Exchange[] = [];
  const recording = recordingFetch(options.fetch, exchanges);
  const endpoint = await createRestProvider({
    fetch: recording,
    // One try: a test answers what the API does now; a run's retries would only make it wait.
    retry: { attempts: 1, baseDelayMs: 0, maxDelayMs: 0 },
  }).createEndpoint({
    id: 'test-stream',
    provider: 'rest',
    // Two requests at most, one try each, each bounded: a rate limit of the config (which could make the second
    // request wait a minute) is left out.
    config: {
      ...config,
      rateLimit: undefined,
      timeoutMs: Math.min(config.timeoutMs ?? STREAM_TEST_TIMEOUT_MS, STREAM_TEST_TIMEOUT_MS),
    },
    credentials,
  });

  const problems: string[] = [];
  const notes: string[] = [];
  const pages: StreamTestPage[] = [];
  const p = entity.pagination;

  /** Reads one page; the exchange it made, its parsed body (2xx only), and the page or the error. */
  const read = async (cursor: string | null) => {
    const before = exchanges.length;
    let page: ReadPage | null = null;
    let error: unknown = null;
    try {
      page = await endpoint.readPage({
        entityType,
        since: null,
        cursor,
        pageSize,
        signal: new AbortController().signal,
      });
    } catch (err) {
      error = err;
    }
    const exchange = exchanges[before] ?? null;
    const answered = exchange !== null && exchange.status >= 200 && exchange.status < 300;
    // Parsed here for detection even when the connector refused it (a JSON body sent as text/plain).
    const body = answered ? parseBody(exchange.text) : undefined;
    // A page the connector read has its list at the records path (readPage checked it).
    const list = page ? (atPath(body, entity.recordsPath) as unknown[]) : null;
    // A page whose request was never made (a next-page link to another origin) has no entry: the problem says it.
    if (exchange) {
      pages.push({
        url: cleanUrl(exchange.url),
        status: exchange.status,
        ms: exchange.ms,
        recordCount: list?.length ?? 0,
        nextCursor: page?.nextCursor ? mask(page.nextCursor) : null,
      });
    }
    return { exchange, answered, body, list, page, error };
  };

  const first = await read(null);
  const requestName = (ex: Exchange | null) => (ex ? `${ex.method} ${displayPath(ex.url, authQuery)}` : 'the request');

  // ── what the first answer holds ──
  const bodyArrays = first.body === undefined ? [] : arraysOfObjects(first.body);
  const recordsPath = first.body === undefined ? null : detectRecordsPath(first.body);
  const rawRecords = (
    first.list ?? (recordsPath !== null ? (atPath(first.body, recordsPath) as unknown[]) : [])
  ).filter((r): r is Record<string, unknown> => typeof r === 'object' && r !== null && !Array.isArray(r));
  const idField = detectIdField(rawRecords);
  const paging =
    first.body === undefined
      ? { pagination: null, hint: null, totalPages: null, total: null }
      : detectPagination(first.body, first.exchange?.headers ?? null, p, idField ?? entity.idField);
  const detected = {
    recordsPath,
    idField,
    updatedAtField: detectUpdatedAtField(rawRecords),
    pagination: paging.pagination,
  };

  if (first.error !== null) {
    const ex = first.exchange;
    if (ex && first.answered && !(ex.contentType ?? '').includes('json')) {
      problems.push(
        `${requestName(ex)} answered ${ex.contentType ? `\`${ex.contentType}\`` : 'without a content type'}, not JSON (application/json): the connector reads JSON answers`,
      );
    } else if (ex && first.answered && first.body === undefined) {
      problems.push(`${requestName(ex)} answered invalid JSON`);
    } else if (first.answered && !Array.isArray(atPath(first.body, entity.recordsPath))) {
      problems.push(recordsPathProblem(entity.recordsPath, first.body, bodyArrays));
    } else problems.push(explain(first.error, ex, requestName(ex), entity, p, 'first'));
  }

  if (first.list !== null) {
    // ── the records ──
    if (rawRecords.length === 0) notes.push('the first page has no records: fields cannot be checked or detected');
    else {
      const withoutId = rawRecords.filter((r) => !isIdValue(atPath(r, entity.idField))).length;
      if (withoutId > 0) {
        const instead = detected.idField && detected.idField !== entity.idField ? `; try \`${detected.idField}\`` : '';
        problems.push(
          `${withoutId} of ${rawRecords.length} records have no \`${entity.idField}\` (idField): they would be skipped; the records have ${describeKeys(rawRecords)}${instead}`,
        );
      }
      if (entity.updatedAtField) {
        const dated = rawRecords.filter((r) => isDateLike(atPath(r, entity.updatedAtField!))).length;
        if (dated === 0) {
          const instead = detected.updatedAtField ? `; try \`${detected.updatedAtField}\`` : '';
          problems.push(
            `updatedAtField \`${entity.updatedAtField}\` holds no date in the records${instead}: incremental runs and conflict checks need it`,
          );
        }
      } else if (detected.updatedAtField) {
        notes.push(`the records have a change time at \`${detected.updatedAtField}\`: set it as updatedAtField`);
      }
      const malformed = (first.page?.records ?? []).filter((r: EndpointRecord) => r.error);
      if (malformed.length > 0) {
        problems.push(
          `${malformed.length} of ${rawRecords.length} records do not match the declared fields (first: ${errorMessage(malformed[0]!.error).replace(/^rest: /, '')})`,
        );
      }
    }
    // ── pagination, from the first answer ──
    problems.push(
      ...paginationProblems(p, first.body, first.list.length, pageSize, first.page, paging, first.exchange),
    );
  }
  if (paging.hint && first.page?.nextCursor == null) notes.push(paging.hint);

  // ── the second page ──
  let nextCursor = first.page?.nextCursor ?? null;
  if (first.page && nextCursor !== null) {
    const second = await read(nextCursor);
    if (second.error !== null) {
      problems.push(explain(second.error, second.exchange, requestName(second.exchange), entity, p, 'second'));
    } else if (second.page) {
      nextCursor = second.page.nextCursor;
      const ids1 = first.page.records.map((r) => r.id);
      const ids2 = second.page.records.map((r) => r.id);
      const seen = new Set(ids1);
      const repeated = ids2.filter((id) => seen.has(id)).length;
      const knob = paginationKnob(p);
      if (ids2.length > 0 && repeated === ids2.length && ids1.length === ids2.length) {
        problems.push(`the second page repeated the first page: pagination does not advance (check ${knob})`);
      } else if (repeated > 0) {
        problems.push(`the second page repeated ${repeated} of the first page's records: check ${knob}`);
      } else if (second.page.nextCursor !== null && second.page.nextCursor === first.page.nextCursor) {
        problems.push(
          `the second page gave the same next cursor as the first: a run would read the same page again and again (check ${p.style === 'cursor' ? (p.cursorPath ? `cursorPath \`${p.cursorPath}\`` : `cursorField \`${p.cursorField}\``) : knob})`,
        );
      }
    }
  } else if (first.page) {
    notes.push('the first page was the last one (no next page): pagination could not be tried');
  }

  return {
    ok: problems.length === 0,
    pages,
    records: rawRecords.slice(0, STREAM_TEST_MAX_RECORDS),
    detected,
    nextCursor: nextCursor === null ? null : mask(nextCursor),
    problems: problems.map(mask),
    notes: notes.map(mask),
    timing: { totalMs: Math.round(performance.now() - started) },
  };
}

/** The credentials each auth type needs (as the connector reads them). */
function requiredCredentials(config: RestConfig): string[] {
  switch (config.auth.type) {
    case 'bearer':
      return ['token'];
    case 'basic':
      return ['username', 'password'];
    case 'header':
    case 'query':
      return ['apiKey'];
    default:
      return [];
  }
}

/**
 * A fetch that notes each exchange (URL, status, time, body text) and hands the connector an answer with the same
 * status, headers and body: the connector reads exactly what the API sent.
 */
function recordingFetch(inner: typeof fetch, log: Exchange[]): typeof fetch {
  return async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const exchange: Exchange = {
      url,
      method: (init?.method ?? 'GET').toUpperCase(),
      status: 0,
      ms: 0,
      text: null,
      contentType: null,
      headers: null,
    };
    log.push(exchange);
    const started = performance.now();
    try {
      const res = await inner(input, init);
      exchange.status = res.status;
      exchange.headers = res.headers;
      exchange.contentType = res.headers.get('content-type');
      const text = await res.text();
      exchange.text = text;
      return new Response(NULL_BODY.has(res.status) ? null : text, {
        status: res.status,
        statusText: res.statusText,
        headers: res.headers,
      });
    } finally {
      exchange.ms = Math.round(performance.now() - started);
    }
  };
}

function parseBody(text: string | null): unknown {
  if (text === null || text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

const isIdValue = (v: unknown) => (typeof v === 'string' && v !== '') || typeof v === 'number';

/** A URL without user info and without the auth query parameter. */
function withoutCredentials(url: string, authQuery: string | null): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    if (authQuery) u.searchParams.delete(authQuery);
    return u.toString();
  } catch {
    return url;
  }
}

/** `/v1/contacts?cursor=abc`: the path and query a problem text names (without the auth parameter). */
function displayPath(url: string, authQuery: string | null): string {
  try {
    const u = new URL(withoutCredentials(url, authQuery));
    return u.pathname + u.search;
  } catch {
    return url;
  }
}

/** The setting that makes a page follow the previous one, for "check …". */
function paginationKnob(p: RestConfig['entities'][string]['pagination']): string {
  switch (p.style) {
    case 'cursor':
      return `cursorParam \`${p.cursorParam}\``;
    case 'page':
      return `pageParam \`${p.pageParam}\``;
    case 'offset':
      return `offsetParam \`${p.offsetParam}\``;
    default:
      return 'the Link header the API sends';
  }
}

function recordsPathProblem(recordsPath: string, body: unknown, arrays: ReturnType<typeof arraysOfObjects>): string {
  const has = arrays.length > 0 ? arrays.slice(0, 3).map(describeArray).join(', ') : describeBody(body);
  if (recordsPath === '') {
    return `records path is empty (the body itself) but the response is ${Array.isArray(body) ? 'not a list of objects' : 'an object'}; the response has ${has}`;
  }
  const value = atPath(body, recordsPath);
  if (value === undefined) return `records path \`${recordsPath}\` not found; the response has ${has}`;
  const what = value === null ? 'null' : Array.isArray(value) ? 'a list of non-objects' : `a ${typeof value}`;
  return `records path \`${recordsPath}\` holds ${what}, not a list; the response has ${has}`;
}

/** An error of `readPage` in words: what happened, and what to check. */
function explain(
  err: unknown,
  exchange: Exchange | null,
  request: string,
  entity: RestConfig['entities'][string],
  p: RestConfig['entities'][string]['pagination'],
  which: 'first' | 'second',
): string {
  if (!(err instanceof ProviderError)) return `${request} failed: ${err instanceof Error ? err.message : String(err)}`;
  const message = err.message.replace(/^rest: /, '');
  if (exchange === null) return message; // refused before any request (a next-page link to another origin)
  // The provider's own words, when its answer had some beyond the status (already a short sanitized excerpt).
  const says = message.replace(/^\d{3}\s*/, '');
  const quoted =
    err.status !== undefined && says !== '' && says !== `HTTP ${err.status}` ? ` (the API says: ${says})` : '';
  const status = err.status ?? (exchange && exchange.status >= 300 ? exchange.status : undefined);
  if (status !== undefined && exchange && exchange.status === status) {
    const head = `HTTP ${status} from ${request}`;
    if (status === 401 || status === 403) return `${head}: check the credentials${quoted}`;
    if (status === 404) {
      return which === 'first'
        ? `${head}: check the list path (\`${entity.listPath}\`) and the base URL${quoted}`
        : `${head}: the second page was not found: check ${paginationKnob(p)}${quoted}`;
    }
    if (status === 429) return `${head}: rate limited; try again later, or set rateLimit${quoted}`;
    if (status >= 500) return `${head}: the API failed; try again later${quoted}`;
    if (status >= 300 && status < 400) return `${head}: a redirect that was not followed${quoted}`;
    return which === 'first'
      ? `${head}: the API refused the request${quoted}`
      : `${head}: the API refused the second page's request: check ${paginationKnob(p)}${quoted}`;
  }
  if (exchange.status === 0) {
    // No answer: refused by the outbound guard, unreachable, or too slow.
    if (/^outbound request to /.test(message)) return `${request} was not sent: ${message}`;
    const code = networkCode(err);
    if (err.unreachable && code) return `${request} got no answer: could not connect${code}`;
    if (/^no response within/.test(message)) return `${request} got no answer: ${message}`;
  }
  return `${request} failed: ${message}`;
}

/** ` (ECONNREFUSED)`: the system's code for a connection that failed, when the error chain has one. */
function networkCode(err: unknown): string {
  let cur: unknown = err;
  for (let depth = 0; depth < 5 && typeof cur === 'object' && cur !== null; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return ` (${code})`;
    cur = (cur as { cause?: unknown }).cause;
  }
  return '';
}

/** What the first answer says about the configured pagination. */
function paginationProblems(
  p: RestConfig['entities'][string]['pagination'],
  body: unknown,
  received: number,
  pageSize: number,
  page: ReadPage | null,
  guess: ReturnType<typeof detectPagination>,
  exchange: Exchange | null,
): string[] {
  if (!page) return [];
  const out: string[] = [];
  const proposal = guess.pagination;
  const elsewhere =
    proposal?.style === 'cursor' && proposal.cursorPath
      ? `; the response has a next cursor at \`${proposal.cursorPath}\``
      : proposal?.style === 'cursor' && proposal.hasMorePath
        ? `; the response says whether more follow at \`${proposal.hasMorePath}\` (page after the last record: cursorField)`
        : proposal?.style === 'link'
          ? '; the API sends a Link header (link pagination)'
          : '';
  if (p.style === 'cursor' && p.cursorPath !== undefined && atPath(body, p.cursorPath) === undefined) {
    out.push(
      `cursor path \`${p.cursorPath}\` not found in the response: a run would stop after the first page${elsewhere}`,
    );
  }
  if (p.style === 'cursor' && p.hasMorePath !== undefined && typeof atPath(body, p.hasMorePath) !== 'boolean') {
    out.push(
      `hasMorePath \`${p.hasMorePath}\` holds no true or false in the response: a run would stop after the first page${elsewhere}`,
    );
  }
  const last = received > 0 && Array.isArray(page.records) ? page.records.at(-1) : undefined;
  if (p.style === 'cursor' && p.cursorField !== undefined && last && !isIdValue(atPath(last.data, p.cursorField))) {
    out.push(
      `cursorField \`${p.cursorField}\` is not in the page's last record: a run would stop after the first page`,
    );
  }
  if (
    p.style === 'link' &&
    page.nextCursor === null &&
    exchange?.headers?.get('link') == null &&
    proposal &&
    proposal.style !== 'link'
  ) {
    out.push(`the API sends no Link header: a run would stop after the first page${elsewhere}`);
  }
  if ((p.style === 'page' || p.style === 'offset') && page.nextCursor === null && received > 0 && received < pageSize) {
    // Without a configured total, a short page ends page and offset pagination. Is it really the last one?
    const more =
      saysMore(body) === true ||
      (p.style === 'page' && guess.totalPages !== null && guess.totalPages > (p.firstPage === 0 ? 1 : p.firstPage)) ||
      (guess.total !== null && guess.total > received);
    if (more) {
      out.push(
        `the first page has ${received} records where ${pageSize} were asked for (limitParam \`${p.limitParam}\`), yet the response says more follow: a run takes a short page for the last one and would stop here (check limitParam; the API may cap its page size: set ${p.style === 'page' ? '`totalPagesPath`' : '`totalPath`'} so that the total decides)`,
      );
    }
  }
  return out;
}

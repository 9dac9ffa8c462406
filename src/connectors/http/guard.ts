/**
 * Where connectors may send requests (SSRF guard). Every request of the HTTP connectors (the shared client,
 * the Stripe SDK, the HubSpot SDK) goes through `guardedFetch`:
 *
 * - **Addresses are checked at connect time**, on what DNS answered for that connection (every address of the
 *   answer; one refused address refuses the name), so a name that answers differently later (DNS rebinding)
 *   is checked again; IP literals are checked too, IPv4-mapped and NAT64/6to4 IPv6 forms by their IPv4 address.
 * - **Link-local and cloud metadata** (169.254.0.0/16, fe80::/10, the metadata host names and addresses) are
 *   refused always, whatever the allow-list says.
 * - **Loopback, private and reserved ranges** are refused when the policy says `allowPrivate: false` (the
 *   server with an API token on a non-loopback address), unless the allow-list names the host or a CIDR that
 *   holds the address.
 * - **Redirects** are followed within the same origin only (scheme, host and port), at most 3; a redirect to
 *   another host is an error (the request's credentials would go with it).
 * - **Response bodies** are read up to `maxResponseBytes` (default 10 MiB), then the connection is dropped.
 *
 * Refusals are `ProviderError('config', …)`: the run fails once and is not retried.
 */
import { lookup as dnsLookup } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { Agent, buildConnector, Response as UndiciResponse, fetch as undiciFetch } from 'undici';
import { ProviderError, ValidationError } from '../../domain/errors.ts';

export interface OutboundPolicy {
  /**
   * Loopback, private (RFC 1918, unique local), shared (CGNAT) and reserved addresses may be reached.
   * The server sets false when it runs with an API token on a non-loopback address.
   */
  allowPrivate: boolean;
  /**
   * Reachable even when private ones are not: host names (exact, case-insensitive), IP addresses and CIDRs
   * (`crm.internal`, `10.0.0.5`, `10.0.0.0/8`, `fd00::/8`). Never opens link-local or metadata addresses.
   */
  allowed: readonly string[];
  /** Largest response body read, in bytes. Default 10 MiB. */
  maxResponseBytes?: number;
  /** DNS resolution (every address of a name). Default: the system resolver (`dns.lookup`). For tests. */
  resolve?: (hostname: string) => Promise<{ address: string; family: number }[]>;
}

/** The library's default: link-local and metadata refused; loopback and private ranges allowed (sandboxes). */
export const DEFAULT_OUTBOUND_POLICY: OutboundPolicy = Object.freeze({ allowPrivate: true, allowed: [] });

export const DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024;
export const MAX_REDIRECTS = 3;
const ALLOW_HINT = 'allow it with OTESSE_SYNC_ALLOWED_HOSTS';

// ── addresses ─────────────────────────────────────────────────────────────────────────────────────────────

interface Ip {
  family: 4 | 6;
  value: bigint;
}
interface Range {
  family: 4 | 6;
  base: bigint;
  bits: number;
}

function parseV4(text: string): bigint | null {
  if (isIP(text) !== 4) return null;
  return text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function parseV6(input: string): bigint | null {
  let text = input.replace(/%.*$/, ''); // zone id (fe80::1%eth0)
  if (isIP(text) !== 6) return null;
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = parseV4(tail);
    if (v4 === null) return null;
    text = `${text.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const first = head === '' ? [] : head.split(':');
  const groups =
    rest === undefined
      ? first
      : [...first, ...Array<string>(8 - first.length - (rest === '' ? 0 : rest.split(':').length)).fill('0')].concat(
          rest === '' ? [] : rest.split(':'),
        );
  if (groups.length !== 8) return null;
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g, 16)), 0n);
}

/** An IP address (IPv4, IPv6, with or without brackets), or null. */
export function parseIp(text: string): Ip | null {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const v4 = parseV4(bare);
  if (v4 !== null) return { family: 4, value: v4 };
  const v6 = parseV6(bare);
  return v6 === null ? null : { family: 6, value: v6 };
}

function parseCidr(text: string): Range | null {
  const m = /^(.+)\/(\d{1,3})$/.exec(text);
  const ip = parseIp(m ? m[1]! : text);
  if (!ip) return null;
  const width = ip.family === 4 ? 32 : 128;
  const bits = m ? Number(m[2]) : width;
  if (bits > width) return null;
  return { family: ip.family, base: ip.value, bits };
}

function contains(range: Range, ip: Ip): boolean {
  if (range.family !== ip.family) return false;
  const shift = BigInt((ip.family === 4 ? 32 : 128) - range.bits);
  return ip.value >> shift === range.base >> shift;
}

const range = (cidr: string): Range => parseCidr(cidr)!;

/** Refused whatever the policy: link-local (where cloud metadata services answer) and metadata addresses. */
const NEVER: [Range, string][] = [
  [range('169.254.0.0/16'), 'a link-local address'],
  [range('100.100.100.200/32'), 'a cloud metadata address'],
  [range('192.0.0.192/32'), 'a cloud metadata address'],
  [range('fe80::/10'), 'a link-local address'],
  [range('fd00:ec2::254/128'), 'a cloud metadata address'],
];
/** Refused unless the policy allows private ranges or the allow-list names them. */
const PRIVATE: [Range, string][] = [
  [range('0.0.0.0/8'), 'a "this network" address (it reaches this machine)'],
  [range('10.0.0.0/8'), 'a private address'],
  [range('100.64.0.0/10'), 'a shared (carrier-grade NAT) address'],
  [range('127.0.0.0/8'), 'a loopback address'],
  [range('172.16.0.0/12'), 'a private address'],
  [range('192.0.0.0/24'), 'a reserved address'],
  [range('192.168.0.0/16'), 'a private address'],
  [range('198.18.0.0/15'), 'a reserved address'],
  [range('224.0.0.0/4'), 'a multicast address'],
  [range('240.0.0.0/4'), 'a reserved address'],
  [range('::/128'), 'an unspecified address (it reaches this machine)'],
  [range('::1/128'), 'a loopback address'],
  [range('fc00::/7'), 'a unique local (private) address'],
  [range('fec0::/10'), 'a site-local (private) address'],
  [range('ff00::/8'), 'a multicast address'],
];
/** Cloud metadata host names (GCP, AWS, generic). */
const METADATA_HOSTS = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
]);

/** The IPv4 address an IPv6 address carries (IPv4-mapped, IPv4-compatible, NAT64, 6to4), if any. */
function embeddedV4(ip: Ip): Ip | null {
  if (ip.family !== 6) return null;
  const v = ip.value;
  const low = v & 0xffffffffn;
  if (v >> 32n === 0xffffn) return { family: 4, value: low }; // ::ffff:a.b.c.d
  if (v >> 32n === 0n && low > 1n) return { family: 4, value: low }; // ::a.b.c.d
  if (v >> 32n === 0x64ff9b0000000000000000n) return { family: 4, value: low }; // 64:ff9b::/96
  if (v >> 80n === 0x64ff9b0001n) return { family: 4, value: low }; // 64:ff9b:1::/48
  if (v >> 112n === 0x2002n) return { family: 4, value: (v >> 80n) & 0xffffffffn }; // 2002::/16
  return null;
}

function labelIn(list: [Range, string][], ip: Ip): string | null {
  for (const [r, label] of list) if (contains(r, ip)) return label;
  return null;
}

/** What an address is, when it is not a public one: never allowed, or private. */
function classify(ip: Ip): { never: boolean; label: string } | null {
  const v4 = embeddedV4(ip);
  for (const candidate of v4 ? [ip, v4] : [ip]) {
    const never = labelIn(NEVER, candidate);
    if (never) return { never: true, label: never };
  }
  for (const candidate of v4 ? [ip, v4] : [ip]) {
    const label = labelIn(PRIVATE, candidate);
    if (label) return { never: false, label };
  }
  return null;
}

const normalHost = (host: string) =>
  host
    .toLowerCase()
    .replace(/\.$/, '')
    .replace(/^\[(.*)\]$/, '$1');

// ── the allow-list ────────────────────────────────────────────────────────────────────────────────────────

const HOST_NAME =
  /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

interface AllowList {
  hosts: Set<string>;
  ranges: Range[];
}

/**
 * Checks allow-list entries (host names, IP addresses, CIDRs); throws ValidationError naming each bad entry,
 * with `path` as the setting's name. Empty entries (a trailing comma) are ignored.
 */
export function parseAllowedHosts(value: string | readonly string[] | undefined, path = 'OTESSE_SYNC_ALLOWED_HOSTS') {
  const entries = (typeof value === 'string' ? value.split(',') : (value ?? [])).map((e) => e.trim()).filter(Boolean);
  const issues: { path: string; message: string }[] = [];
  for (const entry of entries) {
    const problem = entryProblem(entry);
    if (problem) issues.push({ path, message: `"${entry}" ${problem}` });
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return entries;
}

function entryProblem(entry: string): string | null {
  const cidr = parseCidr(entry);
  if (cidr) {
    const ip: Ip = { family: cidr.family, value: cidr.base };
    const what = classify(ip);
    const inside = NEVER.find(([r]) => contains(r, ip) && cidr.bits >= r.bits);
    if (what?.never && inside) return `is ${what.label}: it is never allowed`;
    return null;
  }
  const host = normalHost(entry);
  if (!HOST_NAME.test(host))
    return 'is not a host name, an IP address or a CIDR (e.g. crm.internal, 10.0.0.5, 10.0.0.0/8)';
  if (METADATA_HOSTS.has(host)) return 'is a cloud metadata host name: it is never allowed';
  return null;
}

function compileAllowList(entries: readonly string[]): AllowList {
  const list: AllowList = { hosts: new Set(), ranges: [] };
  for (const entry of parseAllowedHosts(entries, 'outbound.allowed')) {
    const cidr = parseCidr(entry);
    if (cidr) list.ranges.push(cidr);
    else list.hosts.add(normalHost(entry));
  }
  return list;
}

/**
 * The server's policy: private ranges refused when it runs with an API token on a non-loopback address
 * (`strict`), the allow-list from OTESSE_SYNC_ALLOWED_HOSTS (validated: a bad entry throws ValidationError
 * naming it).
 */
export function serverOutboundPolicy(options: { strict: boolean; allowedHosts: string | undefined }): OutboundPolicy {
  return { allowPrivate: !options.strict, allowed: parseAllowedHosts(options.allowedHosts) };
}

// ── the check ─────────────────────────────────────────────────────────────────────────────────────────────

function refused(host: string, reason: string, never: boolean): ProviderError {
  return new ProviderError(
    'config',
    `outbound request to ${host} refused: ${reason} (${never ? 'never allowed' : ALLOW_HINT})`,
  );
}

/** Why a host name is refused before any lookup (metadata names), or null. */
function nameRefusal(host: string): ProviderError | null {
  return METADATA_HOSTS.has(host) ? refused(host, `${host} is a cloud metadata host name`, true) : null;
}

/** Why connecting to `address` (what `host` resolved to, or `host` itself) is refused, or null. */
function addressRefusal(host: string, address: string, policy: OutboundPolicy, allow: AllowList): ProviderError | null {
  const ip = parseIp(address);
  if (!ip) return refused(host, `${address} is not an IP address`, true);
  const what = classify(ip);
  if (!what) return null;
  const reason =
    host === normalHost(address) ? `${host} is ${what.label}` : `${host} resolves to ${address}, ${what.label}`;
  if (what.never) return refused(host, reason, true);
  if (policy.allowPrivate || allow.hosts.has(host)) return null;
  const v4 = embeddedV4(ip);
  if (allow.ranges.some((r) => contains(r, ip) || (v4 !== null && contains(r, v4)))) return null;
  return refused(host, reason, false);
}

/** Why `policy` refuses connecting to `address` for `host` (the refusal's message), or null: for tests and tools. */
export function outboundRefusal(host: string, address: string, policy: OutboundPolicy): string | null {
  const h = normalHost(host);
  const refusal = nameRefusal(h) ?? addressRefusal(h, address, policy, compileAllowList(policy.allowed));
  return refusal?.message ?? null;
}

// ── the guarded fetch ─────────────────────────────────────────────────────────────────────────────────────

type GuardedRequest = (
  input: Parameters<typeof fetch>[0],
  init: RequestInit | undefined,
  provider: string,
) => Promise<Response>;
const guards = new WeakMap<OutboundPolicy, GuardedRequest>();

/**
 * A fetch that enforces `policy` (see the module comment); `provider` names it in redirect and size errors.
 * One connection pool per policy object. A bad allow-list entry throws ValidationError here, so providers
 * call it when they are created. Errors it raises are ProviderErrors (`config`); other failures are fetch's own.
 * A `Request` as input is taken by its URL only.
 */
export function guardedFetch(policy: OutboundPolicy = DEFAULT_OUTBOUND_POLICY, provider = 'http'): typeof fetch {
  let guard = guards.get(policy);
  if (!guard) {
    guard = createGuard(policy);
    guards.set(policy, guard);
  }
  const request = guard;
  return (input, init) => request(input, init, provider);
}

function createGuard(policy: OutboundPolicy): GuardedRequest {
  const allow = compileAllowList(policy.allowed);
  const maxBytes = policy.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const resolve = policy.resolve;

  /** net's `lookup` hook: resolves every address of the name and refuses the name if any is refused. */
  const lookup: LookupFunction = (hostname, options, callback) => {
    const host = normalHost(hostname);
    const done = (err: Error | null, addresses: { address: string; family: number }[]) => {
      if (err) return callback(err, '');
      for (const a of addresses) {
        const refusal = addressRefusal(host, a.address, policy, allow);
        if (refusal) return callback(refusal, '');
      }
      if (addresses.length === 0)
        return callback(Object.assign(new Error(`no address for ${host}`), { code: 'ENOTFOUND' }), '');
      if (options.all) return callback(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    };
    const early = nameRefusal(host);
    if (early) return done(early, []);
    if (resolve) {
      resolve(host).then(
        (list) => done(null, options.family ? list.filter((a) => a.family === options.family) : list),
        (err: Error) => done(err, []),
      );
    } else {
      dnsLookup(hostname, { ...options, all: true }, (err, list) => done(err, list ?? []));
    }
  };
  const connector = buildConnector({ lookup } as buildConnector.BuildOptions);
  const agent = new Agent({
    connect(options, callback) {
      // net.connect skips `lookup` for IP literals: they are checked here.
      const host = normalHost(options.hostname);
      if (isIP(host)) {
        const refusal = addressRefusal(host, host, policy, allow);
        if (refusal) return callback(refusal, null);
      }
      connector(options, callback);
    },
  });

  const send = async (url: URL, init: RequestInit): Promise<Response> => {
    const host = normalHost(url.hostname);
    const refusal = nameRefusal(host) ?? (isIP(host) ? addressRefusal(host, host, policy, allow) : null);
    if (refusal) throw refusal;
    try {
      return (await undiciFetch(url, {
        ...(init as Parameters<typeof undiciFetch>[1]),
        redirect: 'manual',
        dispatcher: agent,
      })) as unknown as Response;
    } catch (err) {
      // fetch wraps connector errors ("fetch failed"): a refusal is ours to report as it is.
      const cause = (err as { cause?: unknown }).cause;
      if (cause instanceof ProviderError) throw cause;
      throw err;
    }
  };

  return async (input, init = {}, provider) => {
    let url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    let method = (init.method ?? 'GET').toUpperCase();
    let request: RequestInit = init;
    for (let hop = 0; ; hop++) {
      const res = await send(url, { ...request, method });
      const location = res.headers.get('location');
      if (![301, 302, 303, 307, 308].includes(res.status) || location === null) return capped(res, maxBytes, provider);
      await res.body?.cancel().catch(() => {});
      const next = new URL(location, url);
      if (next.origin !== url.origin) {
        throw new ProviderError(
          'config',
          `${provider}: ${res.status} redirect to another host (${next.host}) not followed; redirects are followed within the same origin only`,
          { status: res.status },
        );
      }
      if (hop >= MAX_REDIRECTS) {
        throw new ProviderError('config', `${provider}: more than ${MAX_REDIRECTS} redirects; not followed`, {
          status: res.status,
        });
      }
      // As fetch does: 303 (and 301/302 after a POST) continue as a GET without a body.
      if (res.status === 303 ? method !== 'GET' && method !== 'HEAD' : res.status <= 302 && method === 'POST') {
        method = 'GET';
        const { body: _body, ...rest } = request;
        request = rest;
      } else if (request.body !== undefined && request.body !== null && typeof request.body !== 'string') {
        throw new ProviderError(
          'config',
          `${provider}: ${res.status} redirect of a streamed request body; not followed`,
        );
      }
      url = next;
    }
  };
}

const NULL_BODY = new Set([101, 103, 204, 205, 304]);

function tooLarge(maxBytes: number, provider: string): ProviderError {
  const mib = maxBytes / (1024 * 1024);
  return new ProviderError(
    'config',
    `${provider}: the response body is larger than ${Number.isInteger(mib) ? `${mib} MiB (${maxBytes} bytes)` : `${maxBytes} bytes`}; not read further`,
  );
}

/** The response with its body cut at `maxBytes`: reading past it fails with a ProviderError. */
function capped(res: Response, maxBytes: number, provider: string): Response {
  if (res.body === null || NULL_BODY.has(res.status)) return res;
  const length = res.headers.get('content-length');
  const declared = length === null || length.trim() === '' ? Number.NaN : Number(length);
  if (declared > maxBytes) {
    res.body.cancel().catch(() => {});
    throw tooLarge(maxBytes, provider);
  }
  // A declared length bounds what the HTTP parser delivers, unless the body is decompressed on the way.
  const encoding = (res.headers.get('content-encoding') ?? 'identity').trim().toLowerCase();
  if (Number.isInteger(declared) && declared >= 0 && encoding === 'identity') return res;
  let seen = 0;
  const limited = res.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength;
        if (seen > maxBytes) controller.error(tooLarge(maxBytes, provider));
        else controller.enqueue(chunk);
      },
    }),
  );
  return new UndiciResponse(limited as never, {
    status: res.status,
    statusText: res.statusText,
    headers: res.headers as never,
  }) as unknown as Response;
}

/** The ProviderError a guarded request raised, wherever an SDK wrapped it (`cause`, `detail`, `exception`). */
export function guardErrorIn(err: unknown): ProviderError | null {
  let cur: unknown = err;
  for (let depth = 0; depth < 6 && typeof cur === 'object' && cur !== null; depth++) {
    if (cur instanceof ProviderError) return cur;
    const e = cur as { cause?: unknown; detail?: unknown; exception?: unknown };
    cur = e.detail ?? e.exception ?? e.cause;
  }
  return null;
}

/**
 * `otesse-sync serve`: the engine, an in-process worker (queue, schedules, crash recovery), the HTTP API and
 * the web UI in one process. With `demo`, a Stripe-compatible sandbox with seeded data, a connection to it,
 * demo tables and jobs are set up first.
 */
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { type Logger, pino } from 'pino';
import { builtInProviders, serverOutboundPolicy } from '../connectors/index.ts';
import { ValidationError } from '../domain/errors.ts';
import type { ProviderDefinition } from '../engine/endpoint.ts';
import type { SyncWorker } from '../queue/worker.ts';
import { type AlertOptions, createSyncEngine, type SyncEngine } from '../sync-engine.ts';
import { type LocalSide, loadServerConfig, localSide } from './config.ts';
import { type Demo, prepareDemo } from './demo.ts';
import { buildServer, checkApiToken, checkPublicUrl } from './server.ts';

export interface ServeOptions {
  /** postgres:// URL or a PGlite data directory. */
  database: string;
  host: string;
  port: number;
  /** Config file (local entities); default `./otesse-sync.config.json` when present. */
  configPath?: string;
  demo?: boolean;
  /** Demo records per kind (customers; products and invoices scale from it). */
  demoRecords?: number;
  token?: string | null;
  logger?: Logger;
  /** Worker runs at a time. Default 2. */
  concurrency?: number;
  /** PostgreSQL schema of the engine's tables (and the demo's). Default `otesse_sync`. */
  schema?: string;
  /** Credential keys (default: OTESSE_SYNC_ENCRYPTION_KEY, or a key file in the PGlite directory). */
  encryptionKeys?: string[];
  /** Extra providers (tests). */
  providers?: ProviderDefinition[];
  /** Hosts and CIDRs the providers may reach beyond the outbound policy. Default: $OTESSE_SYNC_ALLOWED_HOSTS. */
  allowedHosts?: string;
  /**
   * The URL providers call this server at, behind a TLS-terminating proxy (webhook signatures cover it).
   * Default: $OTESSE_SYNC_PUBLIC_URL, else the URL as the server sees it.
   */
  publicUrl?: string;
  /**
   * Alert deliveries' retries and timeout (tests shrink them). Their outbound policy is the providers' one, and
   * their links point at `publicUrl`.
   */
  alerts?: Pick<AlertOptions, 'retry' | 'timeoutMs'>;
}

export interface RunningServer {
  url: string;
  engine: SyncEngine;
  app: FastifyInstance;
  worker: SyncWorker;
  demo: Demo | null;
  close(): Promise<void>;
}

export const WEB_DIR = fileURLToPath(new URL('../../web/dist/', import.meta.url));

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1';
  return false;
}

/** A logger for the terminal: JSON lines, or pretty lines when stdout is interactive. */
export function defaultLogger(): Logger {
  const level = process.env.LOG_LEVEL ?? 'info';
  if (process.stdout.isTTY && process.env.LOG_FORMAT !== 'json') {
    return pino({ level, transport: { target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname' } } });
  }
  return pino({ level });
}

export async function serve(options: ServeOptions): Promise<RunningServer> {
  const token = options.token ?? null;
  checkApiToken(token);
  // A bad public URL stops the server before anything starts.
  const publicUrl = options.publicUrl ?? process.env.OTESSE_SYNC_PUBLIC_URL;
  if (publicUrl) checkPublicUrl(publicUrl);
  if (!isLoopback(options.host) && !token) {
    throw new ValidationError([
      {
        path: 'OTESSE_SYNC_API_TOKEN',
        message: `is required when the server listens on ${options.host} (not a loopback address); set it, or use --host 127.0.0.1`,
      },
    ]);
  }
  // Where providers may send requests: with an API token on a non-loopback address, no private ranges
  // unless allow-listed (link-local and cloud metadata never). A bad allow-list entry stops here.
  let outbound = serverOutboundPolicy({
    strict: token !== null && !isLoopback(options.host),
    allowedHosts: options.allowedHosts ?? process.env.OTESSE_SYNC_ALLOWED_HOSTS,
  });
  const log = options.logger ?? defaultLogger();
  const isPostgres = /^postgres(ql)?:\/\//.test(options.database);
  let demo: Demo | null = null;
  let configPath = options.configPath;
  if (options.demo) {
    demo = await prepareDemo({
      dir: isPostgres
        ? join(tmpdir(), `otesse-sync-demo-${options.schema ?? 'otesse_sync'}`)
        : resolve(options.database),
      records: options.demoRecords ?? 500,
      latencyMs: Number(process.env.OTESSE_SYNC_DEMO_LATENCY_MS ?? 0) || 0,
    });
    configPath = demo.configPath;
    outbound = { ...outbound, allowed: [...outbound.allowed, new URL(demo.sandbox.url).hostname] };
  }
  const { config } = loadServerConfig(configPath);
  const local: LocalSide = localSide(config);
  let engine: SyncEngine;
  try {
    engine = await createSyncEngine({
      database: options.database,
      providers: [...builtInProviders({ outbound }), ...(options.providers ?? [])],
      alerts: { ...options.alerts, outbound, publicUrl: publicUrl ? checkPublicUrl(publicUrl) : null },
      ...(local.store ? { local: local.store } : {}),
      logger: log,
      ...(options.schema ? { schema: options.schema } : {}),
      ...(options.encryptionKeys ? { encryptionKeys: options.encryptionKeys } : {}),
    });
  } catch (err) {
    await demo?.close();
    await local.close();
    throw err;
  }
  try {
    if (demo) await demo.install(engine);
    const worker = await engine.startWorker({ concurrency: options.concurrency ?? 2 });
    const app = await buildServer({
      engine,
      local,
      token,
      webDir: existsSync(WEB_DIR) ? WEB_DIR : null,
      publicUrl: publicUrl ?? null,
      logger: log.child({ component: 'http' }, { level: 'warn' }),
    });
    const address = await app.listen({ host: options.host, port: options.port });
    const url = address.replace('[::1]', 'localhost');
    // The CLI on the same data directory finds the server here (PGlite is single-process: it must go through it).
    engine.database.lock?.setUrl(url);
    if (demo) await demo.connectWebhooks(url);
    return {
      url,
      engine,
      app,
      worker,
      demo,
      async close() {
        await app.close();
        await engine.close({ graceMs: 10_000 });
        await local.close();
        await demo?.close();
      },
    };
  } catch (err) {
    await engine.close();
    await local.close();
    await demo?.close();
    throw err;
  }
}

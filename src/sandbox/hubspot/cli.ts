import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { HubSpotObjectType } from './schema.ts';
import { type HubSpotSandbox, type HubSpotSandboxOptions, startHubSpotSandbox } from './server.ts';

const USAGE = `Usage: hubspot-sandbox [options]
  --port N               port (default 0: a random free port)
  --host H               host (default 127.0.0.1)
  --records N|SPEC       seeded records: N of each type, or "contacts=1000,companies=50,deals=10"
  --token T              accepted access token (default pat-sandbox)
  --app-secret S         app secret for webhook signatures
  --webhook-url URL      deliver every record change (creation, propertyChange, deletion, restore) to URL
  --rate-limit-share X   share (0-1) of requests answered 429
  --error-share X        share (0-1) of requests answered 503
  --latency-ms N         added latency per request
  --search-delay-ms N    delay before writes show up in search
  --seed N               seed for records and fault draws (default 42)`;

function share(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new Error(`--${name} must be a number from 0 to 1, got "${raw}"`);
  return n;
}

function count(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got "${raw}"`);
  return n;
}

function parseRecords(raw: string | undefined): Partial<Record<HubSpotObjectType, number>> | undefined {
  if (raw === undefined) return undefined;
  if (/^\d+$/.test(raw)) {
    const n = Number(raw);
    return { contacts: n, companies: n, deals: n };
  }
  const out: Partial<Record<HubSpotObjectType, number>> = {};
  for (const part of raw.split(',')) {
    const [type, n] = part.split('=').map((s) => s.trim());
    if (type !== 'contacts' && type !== 'companies' && type !== 'deals') {
      throw new Error(`--records: unknown object type "${type}" (contacts, companies, deals)`);
    }
    out[type] = count('records', n);
  }
  return out;
}

/** Parses CLI arguments into sandbox options (exported for tests). */
export function parseHubSpotSandboxArgs(argv: readonly string[]): HubSpotSandboxOptions {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      records: { type: 'string' },
      token: { type: 'string' },
      'app-secret': { type: 'string' },
      'webhook-url': { type: 'string' },
      'rate-limit-share': { type: 'string' },
      'error-share': { type: 'string' },
      'latency-ms': { type: 'string' },
      'search-delay-ms': { type: 'string' },
      seed: { type: 'string' },
    },
  });
  const rateLimitShare = share('rate-limit-share', values['rate-limit-share']);
  const errorShare = share('error-share', values['error-share']);
  return {
    port: count('port', values.port) ?? 0,
    host: values.host ?? '127.0.0.1',
    records: parseRecords(values.records),
    accessToken: values.token,
    appSecret: values['app-secret'],
    ...(values['webhook-url'] !== undefined ? { webhookUrl: values['webhook-url'] } : {}),
    seed: count('seed', values.seed),
    searchDelayMs: count('search-delay-ms', values['search-delay-ms']),
    faults: {
      rateLimit: rateLimitShare ? { share: rateLimitShare } : undefined,
      serverErrors: errorShare ? { share: errorShare } : undefined,
      latencyMs: count('latency-ms', values['latency-ms']),
    },
  };
}

/**
 * Starts the sandbox from command-line arguments and prints its URL (one line on stdout, for scripts).
 * Returns the running sandbox (null after `--help`); the caller (or SIGINT/SIGTERM when run as a script)
 * closes it. Bad arguments throw.
 *
 * @example
 * npx tsx src/sandbox/hubspot/cli.ts --port 4010 --records contacts=1000 --error-share 0.05
 */
export async function runHubSpotSandboxCli(
  argv: readonly string[],
  io: { out?: (line: string) => void } = {},
): Promise<HubSpotSandbox | null> {
  const out = io.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  if (argv.includes('--help') || argv.includes('-h')) {
    out(USAGE);
    return null;
  }
  const sandbox = await startHubSpotSandbox(parseHubSpotSandboxArgs(argv));
  out(sandbox.url);
  return sandbox;
}

function isMain(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  runHubSpotSandboxCli(process.argv.slice(2)).then(
    (sandbox) => {
      if (!sandbox) return;
      const stop = () => void sandbox.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    },
    (e: Error) => {
      process.stderr.write(`${e.message}\n${USAGE}\n`);
      process.exitCode = 2;
    },
  );
}

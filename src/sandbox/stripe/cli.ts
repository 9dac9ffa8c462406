import { type StripeSandbox, type StripeSandboxOptions, startStripeSandbox } from './server.ts';

export const STRIPE_SANDBOX_USAGE = `Usage: otesse-sync sandbox stripe [options]

Starts a Stripe-compatible sandbox API (for the official stripe SDK: host, port, protocol 'http').

Options:
  --port N               port to listen on (default 12111; 0 = a free port)
  --host HOST            address to bind (default 127.0.0.1)
  --records N            seed N customers, N/10 products, N/10 prices and N/2 invoices (default 100)
  --seed N               seed for data, ids and fault shares (default 1)
  --api-key KEY          secret key accepted (default sk_test_sandbox)
  --webhook-secret S     webhook signing secret (default whsec_sandbox)
  --webhook-url URL      deliver every event to URL (repeatable)
  --rate-limit-share X   share of requests answered 429 (0..1)
  --retry-after N        Retry-After seconds on 429 (default 1)
  --error-share X        share of requests answered 500 (0..1)
  --latency-ms N         delay before each response
  --help                 show this text
`;

export interface StripeSandboxCliOptions {
  /** Where to print the URL and settings (default: process.stdout). */
  write?: (text: string) => void;
}

/** Parses the command line into sandbox options; throws on an unknown flag or a bad value. */
export function parseStripeSandboxArgs(argv: readonly string[]): StripeSandboxOptions | 'help' {
  const options: StripeSandboxOptions = { port: 12111, records: seedCounts(100), faults: {} };
  const faults = options.faults!;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return 'help';
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const next = (): string => {
      if (eq > 0) return arg.slice(eq + 1);
      const value = argv[++i];
      if (value === undefined) throw new Error(`${flag} needs a value`);
      return value;
    };
    switch (flag) {
      case '--port':
        options.port = integer(flag, next(), 0, 65535);
        break;
      case '--host':
        options.host = next();
        break;
      case '--records':
        options.records = seedCounts(integer(flag, next(), 0, 10_000_000));
        break;
      case '--seed':
        options.seed = integer(flag, next(), 0, 2 ** 31);
        break;
      case '--api-key':
        options.apiKey = next();
        break;
      case '--webhook-secret':
        options.webhookSecret = next();
        break;
      case '--webhook-url':
        options.webhookEndpoints = [...(options.webhookEndpoints ?? []), next()];
        break;
      case '--rate-limit-share':
        faults.rateLimit = { ...faults.rateLimit, share: share(flag, next()) };
        break;
      case '--retry-after':
        faults.rateLimit = { ...faults.rateLimit, retryAfterSeconds: integer(flag, next(), 0, 3600) };
        break;
      case '--error-share':
        faults.serverErrors = { share: share(flag, next()) };
        break;
      case '--latency-ms':
        faults.latencyMs = integer(flag, next(), 0, 600_000);
        break;
      default:
        throw new Error(`unknown option ${arg}\n\n${STRIPE_SANDBOX_USAGE}`);
    }
  }
  return options;
}

/**
 * `otesse-sync sandbox stripe …`: starts the sandbox and prints its URL. Resolves with the running sandbox
 * (the caller closes it, e.g. on SIGINT), or null after `--help`.
 */
export async function runStripeSandboxCli(
  argv: readonly string[],
  cli: StripeSandboxCliOptions = {},
): Promise<StripeSandbox | null> {
  const write = cli.write ?? ((text: string) => process.stdout.write(text));
  const options = parseStripeSandboxArgs(argv);
  if (options === 'help') {
    write(STRIPE_SANDBOX_USAGE);
    return null;
  }
  const sandbox = await startStripeSandbox(options);
  const counts = options.records ?? {};
  write(
    `Stripe sandbox listening on ${sandbox.url}\n` +
      `  api key:        ${sandbox.apiKey}\n` +
      `  webhook secret: ${sandbox.webhookSecret}\n` +
      `  records:        ${counts.customers ?? 0} customers, ${counts.products ?? 0} products, ${counts.prices ?? 0} prices, ${counts.invoices ?? 0} invoices\n` +
      `  SDK:            new Stripe('${sandbox.apiKey}', { host: '${sandbox.host}', port: ${sandbox.port}, protocol: 'http' })\n`,
  );
  return sandbox;
}

function seedCounts(n: number) {
  const tenth = Math.ceil(n / 10);
  return { customers: n, products: tenth, prices: tenth, invoices: Math.ceil(n / 2) };
}

function integer(flag: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) throw new Error(`${flag}: expected an integer from ${min} to ${max}`);
  return n;
}

function share(flag: string, text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1)
    throw new Error(`${flag}: expected a number from 0 to 1`);
  return n;
}

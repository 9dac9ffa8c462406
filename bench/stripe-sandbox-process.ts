/**
 * The Stripe sandbox as a child process of `bench/e2e.ts` (started with `fork`). It seeds N customers, listens on a
 * free port and reports its URL over IPC; it answers `{ type: 'stats' }` with its RSS and request counts, and exits
 * when the parent disconnects.
 *
 * Why a separate process: the sandbox is the provider, not the engine. In the engine's process its JSON
 * serialization would take turns on the engine's event loop (one core), and its 1,000,000 seeded customers (about
 * 1 GB of objects) would count in the engine's RSS. In its own process it has its own event loop, heap and RSS,
 * like Stripe's servers; the bench measures the engine process only and reports the sandbox's RSS beside it.
 */
import { startStripeSandbox } from '../src/sandbox/stripe/server.ts';

const records = Number(process.env.BENCH_SANDBOX_RECORDS ?? '100000');
const started = performance.now();
const sandbox = await startStripeSandbox({ port: 0, records: { customers: records }, seed: 1 });
const seedSeconds = (performance.now() - started) / 1000;

const send = (message: unknown) => process.send?.(message);
send({ type: 'ready', url: sandbox.url, apiKey: sandbox.apiKey, seedSeconds, rss: process.memoryUsage().rss });

process.on('message', (message: { type?: string }) => {
  if (message?.type === 'stats') {
    send({ type: 'stats', rss: process.memoryUsage().rss, requests: sandbox.requests.total });
  }
});
process.on('disconnect', () => {
  void sandbox.close().finally(() => process.exit(0));
});

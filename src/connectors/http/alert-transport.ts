/**
 * How alerts leave the engine: POSTs to notification channels through the same outbound guard as connectors
 * (guard.ts: link-local and metadata addresses never, private ranges only when the policy allows), with a
 * timeout, and reading no more of the answer than a short excerpt. The alerts service depends on the port
 * (`AlertTransport` in src/services/alerts.ts); this is the adapter the composition root gives it.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { bodyExcerpt, looksLikeHtml } from './classify.ts';
import { DEFAULT_OUTBOUND_POLICY, guardedFetch, type OutboundPolicy, outboundRefusal } from './guard.ts';

/** Bytes of an answer read for its excerpt; the rest is not read. */
const READ_BYTES = 4096;

export function alertTransport(policy: OutboundPolicy = DEFAULT_OUTBOUND_POLICY) {
  const fetch = guardedFetch(policy, 'notification channel');
  return {
    /**
     * Why the policy refuses `url` (every address its host resolves to now is checked), or null. A name that
     * does not resolve is not refused here: deliveries report it (and the guard checks again at each connect).
     */
    async refusal(url: URL): Promise<string | null> {
      const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
      if (isIP(host)) return outboundRefusal(host, host, policy);
      let addresses: { address: string }[];
      try {
        addresses = policy.resolve ? await policy.resolve(host) : await lookup(host, { all: true });
      } catch {
        return outboundRefusal(host, '8.8.8.8', policy); // a metadata name is refused before any lookup
      }
      for (const { address } of addresses) {
        const refused = outboundRefusal(host, address, policy);
        if (refused) return refused;
      }
      return null;
    },

    /** POSTs `body`; the receiver's status and a sanitized excerpt of its answer. Throws when there is no answer. */
    async post(
      url: URL,
      init: { headers: Record<string, string>; body: string; timeoutMs: number },
    ): Promise<{ status: number; excerpt: string | null }> {
      const res = await fetch(url, {
        method: 'POST',
        headers: init.headers,
        body: init.body,
        signal: AbortSignal.timeout(init.timeoutMs),
      });
      return { status: res.status, excerpt: await excerptOf(res) };
    },
  };
}

/** The start of an answer as the delivery log may keep it: sanitized, 200 characters, an HTML page never quoted. */
async function excerptOf(res: Response): Promise<string | null> {
  if (!res.body) return null;
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < READ_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // a body cut short still gives what was read
  } finally {
    reader.cancel().catch(() => {});
  }
  const text = Buffer.concat(chunks).subarray(0, READ_BYTES).toString('utf8');
  if (text.trim() === '') return null;
  if (looksLikeHtml(text, res.headers.get('content-type'))) return '(an HTML page, not quoted)';
  return bodyExcerpt(text) ?? null;
}

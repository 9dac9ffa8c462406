import type { ProviderDefinition } from '../engine/endpoint.ts';
import type { OutboundPolicy } from './http/guard.ts';
import { createHubSpotProvider } from './hubspot/index.ts';
import { createRestProvider } from './rest/index.ts';
import { createStripeProvider } from './stripe/index.ts';

export {
  DEFAULT_OUTBOUND_POLICY,
  type OutboundPolicy,
  parseAllowedHosts,
  serverOutboundPolicy,
} from './http/guard.ts';
export { createHubSpotProvider, hubspotConfigSchema, verifyHubSpotWebhook } from './hubspot/index.ts';
export { createMemoryProvider, type MemoryProvider } from './memory.ts';
export { createRestProvider, restConfigSchema, restEntityTypeInfo } from './rest/index.ts';
export { createStripeProvider, stripeConfigSchema, verifyStripeWebhook } from './stripe/index.ts';

/**
 * The real providers with their defaults (Stripe, HubSpot, the generic REST connector), for the server.
 * `outbound`: where their requests may go (default DEFAULT_OUTBOUND_POLICY: link-local and cloud metadata
 * refused, loopback and private ranges allowed); `serve` passes a stricter one when it needs an API token.
 */
export function builtInProviders(options: { outbound?: OutboundPolicy } = {}): ProviderDefinition[] {
  const outbound = options.outbound ? { outbound: options.outbound } : {};
  return [createStripeProvider(outbound), createHubSpotProvider(outbound), createRestProvider(outbound)];
}

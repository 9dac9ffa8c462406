import type { ProviderDefinition } from '../engine/endpoint.ts';
import { createHubSpotProvider } from './hubspot/index.ts';
import { createRestProvider } from './rest/index.ts';
import { createStripeProvider } from './stripe/index.ts';

export { createHubSpotProvider, hubspotConfigSchema, verifyHubSpotWebhook } from './hubspot/index.ts';
export { createMemoryProvider, type MemoryProvider } from './memory.ts';
export { createRestProvider, restConfigSchema, restEntityTypeInfo } from './rest/index.ts';
export { createStripeProvider, stripeConfigSchema, verifyStripeWebhook } from './stripe/index.ts';

/** The real providers with their defaults (Stripe, HubSpot, the generic REST connector), for the server. */
export function builtInProviders(): ProviderDefinition[] {
  return [createStripeProvider(), createHubSpotProvider(), createRestProvider()];
}

import { type Kysely, sql } from 'kysely';
import type { Logger } from 'pino';
import { CredentialsUnavailableError, errorMessage, ProviderError, ValidationError } from '../domain/errors.ts';
import type { WebhookDelivery } from '../engine/endpoint.ts';
import type { EnqueueResult, SyncQueue } from '../queue/queue.ts';
import type { CredentialVault } from '../security/vault.ts';
import type { DB } from '../store/schema.ts';
import type { ConnectionService } from './connections.ts';
import type { JobService } from './jobs.ts';
import type { ProviderRegistry } from './providers.ts';

export interface WebhookDeps {
  db: Kysely<DB>;
  log: Logger;
  vault: CredentialVault;
  providers: ProviderRegistry;
  connections: ConnectionService;
  jobs: JobService;
  queue(): Promise<SyncQueue>;
}

/**
 * Provider webhooks: a delivery's signature is checked with the connection's credentials, each event id is
 * stored once (replays start nothing), and the changed records get single-record runs through the queue.
 */
export function webhookService({ db, log, vault, providers, connections, jobs, queue }: WebhookDeps) {
  let prunedAt = 0;

  async function webhook(connectionId: string, entityType: string, recordIds: string[]): Promise<EnqueueResult[]> {
    if (!Array.isArray(recordIds) || recordIds.length === 0 || recordIds.some((r) => typeof r !== 'string' || !r)) {
      throw new ValidationError([{ path: 'recordIds', message: 'must be a non-empty list of record ids' }]);
    }
    await connections.row(connectionId);
    const reading = (await jobs.list({ connectionId })).filter(
      (j) => j.enabled && j.entityType === entityType && j.direction !== 'outbound',
    );
    const runs = await queue();
    const out: EnqueueResult[] = [];
    for (const job of reading) {
      for (const id of new Set(recordIds)) {
        out.push(await runs.enqueue(job, { trigger: 'webhook', recordKeys: [id], side: 'provider' }));
      }
    }
    return out;
  }

  async function receiveWebhook(
    connectionId: string,
    delivery: WebhookDelivery,
  ): Promise<{ accepted: number; duplicates: number }> {
    const conn = await connections.row(connectionId);
    const provider = providers.get(conn.provider);
    if (!provider?.webhook) {
      throw new ProviderError('config', `provider "${conn.provider}" does not send webhooks`);
    }
    let credentials: Record<string, string> = {};
    try {
      if (conn.credentials !== null) credentials = vault.open(conn.credentials);
    } catch (err) {
      // Without the signing secret the delivery cannot be verified: refused as unavailable, so the provider
      // delivers it again once the credentials are entered again (or the key is configured).
      throw new CredentialsUnavailableError(
        `connection ${conn.id}: its credentials cannot be opened (${errorMessage(err)}); enter them again or ` +
          'configure the key that sealed them',
      );
    }
    const events = provider.webhook.verify(delivery, {
      id: conn.id,
      provider: conn.provider,
      config: conn.config,
      credentials,
    });
    if (events.length === 0) return { accepted: 0, duplicates: 0 };
    // Each event id is stored once; a replayed delivery inserts nothing and starts nothing.
    const fresh = await db
      .insertInto('webhook_events')
      .values(
        events.map((e) => ({
          connection_id: conn.id,
          event_id: e.eventId,
          entity_type: e.entityType,
          record_id: e.recordId,
        })),
      )
      .onConflict((oc) => oc.columns(['connection_id', 'event_id']).doNothing())
      .returning(['entity_type', 'record_id'])
      .execute();
    // Event ids are kept 30 days (providers retry deliveries for up to 3 days); pruned at most hourly.
    if (Date.now() - prunedAt > 3_600_000) {
      prunedAt = Date.now();
      await sql`DELETE FROM webhook_events WHERE received_at < now() - interval '30 days'`.execute(db);
    }
    const byType = new Map<string, string[]>();
    for (const e of fresh) byType.set(e.entity_type, [...(byType.get(e.entity_type) ?? []), e.record_id]);
    for (const [entityType, ids] of byType) {
      // Runs are queued in the background: the provider gets its 2xx at once.
      webhook(conn.id, entityType, ids).catch((err: unknown) =>
        log.error({ connectionId: conn.id, entityType, err: errorMessage(err) }, 'webhook runs not queued'),
      );
    }
    return { accepted: fresh.length, duplicates: events.length - fresh.length };
  }

  return { webhook, receiveWebhook };
}

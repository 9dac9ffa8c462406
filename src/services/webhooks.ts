import type { Kysely } from 'kysely';
import { CredentialsUnavailableError, errorMessage, ProviderError, ValidationError } from '../domain/errors.ts';
import type { WebhookDelivery } from '../engine/endpoint.ts';
import type { EnqueueResult, SyncQueue } from '../queue/queue.ts';
import type { CredentialVault } from '../security/vault.ts';
import { loadRules, toJob } from '../store/repository.ts';
import type { DB } from '../store/schema.ts';
import type { ConnectionService } from './connections.ts';
import type { ProviderRegistry } from './providers.ts';

export interface WebhookDeps {
  db: Kysely<DB>;
  vault: CredentialVault;
  providers: ProviderRegistry;
  connections: ConnectionService;
  queue(): Promise<SyncQueue>;
}

/**
 * Provider webhooks: a delivery's signature is checked with the connection's credentials, each event id is
 * stored once (replays start nothing), and the changed records get single-record runs through the queue.
 */
export function webhookService({ db, vault, providers, connections, queue }: WebhookDeps) {
  /**
   * Queues a single-record run per changed record for every enabled job of the connection that reads these
   * entity types from the provider, through `tx`: one statement for the jobs, one for their rules, then the
   * queue's batch (see SyncQueue.enqueueMany).
   */
  async function fanOut(
    tx: Kysely<DB>,
    connectionId: string,
    changed: Map<string, string[]>,
  ): Promise<EnqueueResult[]> {
    if (changed.size === 0) return [];
    const rows = await tx
      .selectFrom('sync_jobs')
      .selectAll()
      .where('connection_id', '=', connectionId)
      .where('enabled', '=', true)
      .where('archived_at', 'is', null)
      .where('direction', '!=', 'outbound')
      .where('entity_type', 'in', [...changed.keys()])
      .orderBy('created_at')
      .execute();
    if (rows.length === 0) return [];
    const rules = await loadRules(
      tx,
      rows.map((r) => r.id),
    );
    const items = rows.flatMap((r) => {
      const job = toJob(r, rules.get(r.id) ?? []);
      return [...new Set(changed.get(r.entity_type))].map((id) => ({
        job,
        options: { trigger: 'webhook' as const, recordKeys: [id], side: 'provider' as const },
      }));
    });
    return (await queue()).enqueueMany(items, tx);
  }

  async function webhook(connectionId: string, entityType: string, recordIds: string[]): Promise<EnqueueResult[]> {
    if (!Array.isArray(recordIds) || recordIds.length === 0 || recordIds.some((r) => typeof r !== 'string' || !r)) {
      throw new ValidationError([{ path: 'recordIds', message: 'must be a non-empty list of record ids' }]);
    }
    await connections.row(connectionId);
    await queue();
    return db.transaction().execute((tx) => fanOut(tx, connectionId, new Map([[entityType, recordIds]])));
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
    await queue();
    // Each event id is stored once; a replayed delivery inserts nothing and starts nothing. The events and the
    // runs they start are written in one transaction before the provider gets its 2xx: a crash in between
    // leaves neither, and the provider delivers again.
    const fresh = await db.transaction().execute(async (tx) => {
      const inserted = await tx
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
      const byType = new Map<string, string[]>();
      for (const e of inserted) byType.set(e.entity_type, [...(byType.get(e.entity_type) ?? []), e.record_id]);
      await fanOut(tx, conn.id, byType);
      return inserted;
    });
    return { accepted: fresh.length, duplicates: events.length - fresh.length };
  }

  return { webhook, receiveWebhook };
}

import { describe, expect, it } from 'vitest';
import { type AlertState, displayUrl, healthOf, nextAlertState, parseChannelUrl, slackMessage } from './alerts.ts';

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));

/** Runs `healths` in order from a job never seen; returns the events sent and the final state. */
function play(healths: Parameters<typeof nextAlertState>[1][]) {
  let state: AlertState | null = null;
  const sent: { event: string; digest: unknown }[] = [];
  healths.forEach((health, i) => {
    const r = nextAlertState(state, health, { executionId: `e${i}`, haltReason: `reason ${i}`, at: at(i) });
    if (r.event) sent.push({ event: r.event, digest: r.digest });
    state = r.next;
  });
  return { sent, state: state as AlertState | null };
}

describe('the no-storm rule', () => {
  it('alerts once per change of state and counts the repeats into the next alert', () => {
    const { sent, state } = play(['ok', 'failed', 'failed', 'failed', 'ok', 'ok']);
    expect(sent).toEqual([
      { event: 'execution.failed', digest: null },
      {
        event: 'job.recovered',
        digest: {
          state: 'failed',
          since: at(1).toISOString(),
          repeats: 2,
          lastExecutionId: 'e3',
          lastHaltReason: 'reason 3',
        },
      },
    ]);
    expect(state).toMatchObject({ state: 'ok', repeats: 0, lastExecutionId: 'e5' });
  });

  it('a change from one bad state to another is alerted, with the digest of the one before', () => {
    const { sent } = play(['failed', 'failed', 'timed_out', 'circuit_breaker', 'completed_with_errors']);
    expect(sent.map((s) => s.event)).toEqual([
      'execution.failed',
      'execution.timed_out',
      'circuit_breaker.tripped',
      'execution.completed_with_errors',
    ]);
    expect(sent[1]!.digest).toMatchObject({ state: 'failed', repeats: 1 });
    expect(sent[2]!.digest).toMatchObject({ state: 'timed_out', repeats: 0 });
  });

  it('a job first seen healthy sends nothing', () => {
    expect(play(['ok', 'ok']).sent).toEqual([]);
  });

  it('judges runs by status and halt kind; a person’s cancel says nothing', () => {
    expect(healthOf({ status: 'failed', haltKind: 'circuit_breaker' })).toBe('circuit_breaker');
    expect(healthOf({ status: 'failed', haltKind: 'configuration' })).toBe('failed');
    expect(healthOf({ status: 'cancelled', haltKind: 'connection_lost' })).toBe('failed');
    expect(healthOf({ status: 'cancelled', haltKind: 'cancelled' })).toBeNull();
    expect(healthOf({ status: 'completed_with_errors', haltKind: 'mass_delete' })).toBe('completed_with_errors');
  });
});

describe('channel URLs', () => {
  it('refuses other schemes, credentials and fragments', () => {
    expect(parseChannelUrl('ftp://x.test/')).toEqual({ issue: { path: 'url', message: 'must be an http(s) URL' } });
    expect(parseChannelUrl('not a url')).toMatchObject({ issue: { path: 'url' } });
    expect(parseChannelUrl('https://u:p@x.test/')).toMatchObject({ issue: { message: /credentials/ } });
    expect(parseChannelUrl('https://u@x.test/')).toMatchObject({ issue: { message: /credentials/ } });
    expect(parseChannelUrl('https://x.test/#a')).toMatchObject({ issue: { message: /fragment/ } });
    expect(parseChannelUrl('https://x.test/hook?a=1')).toHaveProperty('url');
  });

  it('masks query values, and a Slack URL after its first path segment', () => {
    const url = (s: string) => new URL(s);
    expect(displayUrl('webhook', url('https://ops.test/hooks/sync?token=s3cret&x=1'))).toBe(
      'https://ops.test/hooks/sync?token=…&x=…',
    );
    expect(displayUrl('slack', url('https://hooks.slack.com/services/T0/B0/XYZ'))).toBe(
      'https://hooks.slack.com/services/…',
    );
    expect(displayUrl('slack', url('https://hooks.slack.com/'))).toBe('https://hooks.slack.com/');
  });
});

describe('Slack messages', () => {
  it('escape what Slack would read as markup', () => {
    const message = slackMessage({
      id: 'a',
      type: 'execution.failed',
      createdAt: at(0).toISOString(),
      summary: 'Sync job "<!channel> & co" failed',
      job: { id: 'j', name: '<!channel> & co' },
      execution: null,
      deadLetters: null,
      url: null,
      digest: null,
    });
    expect(message.text).toBe(':red_circle: Sync job "&lt;!channel&gt; &amp; co" failed');
    expect(message.blocks).toHaveLength(1);
  });
});

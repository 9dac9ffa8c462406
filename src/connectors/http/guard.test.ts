import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../domain/errors.ts';
import { createRestProvider } from '../rest/index.ts';
import { type OutboundPolicy, outboundRefusal, parseAllowedHosts, parseIp, serverOutboundPolicy } from './guard.ts';

const STRICT: OutboundPolicy = { allowPrivate: false, allowed: [] };
const LENIENT: OutboundPolicy = { allowPrivate: true, allowed: [] };
const refusedFor = (address: string, policy = STRICT) => outboundRefusal(address, address, policy);

describe('outbound guard: addresses', () => {
  it('parses IPv4 and IPv6 (compressed, bracketed, zone ids, embedded IPv4)', () => {
    expect(parseIp('10.1.2.3')).toEqual({ family: 4, value: 0x0a010203n });
    expect(parseIp('[::1]')).toEqual({ family: 6, value: 1n });
    expect(parseIp('fe80::1%eth0')).toEqual({ family: 6, value: (0xfe80n << 112n) | 1n });
    expect(parseIp('::ffff:169.254.169.254')).toEqual(parseIp('::ffff:a9fe:a9fe'));
    expect(parseIp('2001:db8::')).toEqual({ family: 6, value: 0x20010db8n << 96n });
    for (const bad of ['', '1.2.3', '256.1.1.1', 'example.com', '1::2::3', '[1.2.3.4]x'])
      expect(parseIp(bad)).toBeNull();
  });

  it('never allows link-local or metadata addresses, in any notation, whatever the policy', () => {
    const all = { allowPrivate: true, allowed: ['0.0.0.0/0', '::/0'] };
    for (const address of [
      '169.254.169.254',
      '169.254.0.1',
      'fe80::1',
      'febf::1',
      '::ffff:169.254.169.254',
      '64:ff9b::169.254.169.254',
      '2002:a9fe:a9fe::1',
      'fd00:ec2::254',
      '100.100.100.200',
    ]) {
      expect([address, refusedFor(address, all)]).toEqual([address, expect.stringMatching(/never allowed\)$/)]);
    }
    expect(outboundRefusal('Metadata.Google.Internal.', '8.8.8.8', all)).toBe(
      'outbound request to metadata.google.internal refused: metadata.google.internal is a cloud metadata host name (never allowed)',
    );
  });

  it('refuses loopback, private, shared and reserved ranges only under the strict policy', () => {
    for (const address of [
      '127.0.0.1',
      '127.255.0.9',
      '0.0.0.0',
      '10.0.0.1',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '100.64.0.1',
      '224.0.0.1',
      '255.255.255.255',
      '::',
      '::1',
      'fc00::1',
      'fd12:3456::1',
      '::ffff:10.0.0.1',
      '::ffff:127.0.0.1',
    ]) {
      expect([address, refusedFor(address)]).toEqual([address, expect.stringMatching(/OTESSE_SYNC_ALLOWED_HOSTS\)$/)]);
      expect([address, refusedFor(address, LENIENT)]).toEqual([address, null]);
    }
    for (const address of ['8.8.8.8', '172.32.0.1', '169.255.0.1', '100.128.0.1', '2606:4700::1111']) {
      expect([address, refusedFor(address)]).toEqual([address, null]);
    }
  });

  it('allow-list: host names (case-insensitive, trailing dot), addresses, CIDRs (IPv4-mapped too)', () => {
    const policy = { allowPrivate: false, allowed: ['CRM.internal', '10.0.0.5', '192.168.0.0/16', 'fd00::/8'] };
    expect(outboundRefusal('crm.internal.', '10.9.9.9', policy)).toBeNull();
    expect(outboundRefusal('other.internal', '10.9.9.9', policy)).toMatch(
      /^outbound request to other\.internal refused: other\.internal resolves to 10\.9\.9\.9, a private address/,
    );
    expect(refusedFor('10.0.0.5', policy)).toBeNull();
    expect(refusedFor('10.0.0.6', policy)).not.toBeNull();
    expect(refusedFor('192.168.44.1', policy)).toBeNull();
    expect(refusedFor('::ffff:192.168.44.1', policy)).toBeNull();
    expect(refusedFor('fd00::9', policy)).toBeNull();
    expect(refusedFor('127.0.0.1', policy)).not.toBeNull();
    // An allowed name never opens link-local addresses.
    expect(outboundRefusal('crm.internal', '169.254.169.254', policy)).toMatch(/never allowed/);
  });
});

describe('outbound guard: the allow-list setting', () => {
  it('takes comma-separated entries, ignoring empty ones', () => {
    expect(parseAllowedHosts(' crm.internal, 10.0.0.0/8 ,,[::1], fd00::/8 ,')).toEqual([
      'crm.internal',
      '10.0.0.0/8',
      '[::1]',
      'fd00::/8',
    ]);
    expect(parseAllowedHosts(undefined)).toEqual([]);
  });

  it('names every bad entry', () => {
    const err = (() => {
      try {
        parseAllowedHosts('ok.internal, crm.internal:8080, https://x.test, 10.0.0.0/33, fe80::/64, metadata, a b');
      } catch (e) {
        return e as ValidationError;
      }
      throw new Error('expected a ValidationError');
    })();
    expect(err).toBeInstanceOf(ValidationError);
    const what = 'is not a host name, an IP address or a CIDR (e.g. crm.internal, 10.0.0.5, 10.0.0.0/8)';
    expect(err.issues).toEqual([
      { path: 'OTESSE_SYNC_ALLOWED_HOSTS', message: `"crm.internal:8080" ${what}` },
      { path: 'OTESSE_SYNC_ALLOWED_HOSTS', message: `"https://x.test" ${what}` },
      { path: 'OTESSE_SYNC_ALLOWED_HOSTS', message: `"10.0.0.0/33" ${what}` },
      { path: 'OTESSE_SYNC_ALLOWED_HOSTS', message: '"fe80::/64" is a link-local address: it is never allowed' },
      { path: 'OTESSE_SYNC_ALLOWED_HOSTS', message: '"metadata" is a cloud metadata host name: it is never allowed' },
      { path: 'OTESSE_SYNC_ALLOWED_HOSTS', message: `"a b" ${what}` },
    ]);
  });

  it('the server policy: strict refuses private ranges; a library policy is checked when providers are made', () => {
    expect(serverOutboundPolicy({ strict: true, allowedHosts: 'crm.internal' })).toEqual({
      allowPrivate: false,
      allowed: ['crm.internal'],
    });
    expect(serverOutboundPolicy({ strict: false, allowedHosts: undefined })).toEqual({
      allowPrivate: true,
      allowed: [],
    });
    expect(() => createRestProvider({ outbound: { allowPrivate: false, allowed: ['nope:1'] } })).toThrow(
      'outbound.allowed: "nope:1" is not a host name',
    );
  });
});

import { describe, expect, it } from 'vitest';
import type { DeviceInfo, DeviceRequest } from './api';
import {
  checkDeviceName,
  completionText,
  durationUntil,
  lastUsedText,
  linkErrorMessage,
  looksLikeAuthentiqId,
  newestRequest,
  recoverCompleteError,
  REVOKED_HERE,
  requesterText,
  revokedNotice,
  sortDevices,
} from './device-logic';
import { generalErrorMessage } from './request-logic';

const NOW = 1_800_000_000_000;
const T = NOW / 1000;

function request(kind: DeviceRequest['kind'], url: string, received_at: number): DeviceRequest {
  return {
    kind,
    url,
    device: 'DPK',
    name: 'Desk',
    ip: '192.0.2.1',
    user_agent: null,
    numbers: kind === 'link' ? [1, 2, 3] : null,
    completes_at: kind === 'recovery' ? T + 60 : null,
    received_at,
  };
}

describe('device logic', () => {
  it('recognises an Authentiq ID', () => {
    expect(looksLikeAuthentiqId(' kX3fQ9vB2mZrT7wLpA4sN8yHcE1uJ6dGoR5tVbW0qIa ')).toBe(true);
    expect(looksLikeAuthentiqId('kX3fQ9vB2mZrT7wLpA4sN8yHcE1uJ6dGoR5tVbW0qI')).toBe(false);
    expect(looksLikeAuthentiqId('kX3fQ9vB2mZrT7wLpA4sN8yHcE1uJ6dGoR5tVbW0q+a')).toBe(false);
  });

  it('says how long until a time, coarser when far', () => {
    expect(durationUntil(T + 86400 + 3600 * 2 + 5, NOW)).toBe('1 d 2 h');
    expect(durationUntil(T + 86400, NOW)).toBe('1 d');
    expect(durationUntil(T + 23 * 3600 + 59 * 60 + 30, NOW)).toBe('23 h 59 min');
    expect(durationUntil(T + 2 * 3600, NOW)).toBe('2 h');
    expect(durationUntil(T + 250, NOW)).toBe('4 min 10 s');
    expect(durationUntil(T + 25 * 60 + 3, NOW)).toBe('25 min');
    expect(durationUntil(T + 12, NOW)).toBe('12 s');
    expect(durationUntil(T, NOW)).toBe('');
    expect(durationUntil(T - 5, NOW)).toBe('');
    expect(completionText(T - 1, NOW)).toBe('Can complete now');
    expect(completionText(T + 12, NOW, 'en-GB')).toMatch(/^Completes in 12 s \(/);
  });

  it('says when a device was last used', () => {
    expect(lastUsedText({ added_at: T - 100, last_used_at: null }, NOW)).toBe('Not used yet');
    expect(lastUsedText({ added_at: T - 900, last_used_at: T - 300 }, NOW)).toBe('Last used 5 min ago');
  });

  it('names where a request comes from', () => {
    expect(requesterText({ ip: '192.0.2.1', user_agent: null })).toBe('192.0.2.1');
    expect(requesterText({ ip: '192.0.2.1', user_agent: 'aq/0.1' })).toBe('192.0.2.1 · aq/0.1');
    expect(
      requesterText({ ip: '192.0.2.1', user_agent: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0' }),
    ).toMatch(/^192\.0\.2\.1 · .*Firefox/);
  });

  it('picks the newest request of a kind', () => {
    const list = [request('link', 'a', 10), request('recovery', 'r', 30), request('link', 'b', 20)];
    expect(newestRequest(list, 'link')?.url).toBe('b');
    expect(newestRequest(list, 'recovery')?.url).toBe('r');
    expect(newestRequest([], 'link')).toBeNull();
  });

  it('lists this device first, then by last use', () => {
    const d = (device: string, last: number | null, added = 0): DeviceInfo => ({ device, name: device, added_at: added, last_used_at: last });
    const sorted = sortDevices([d('a', 10), d('b', null, 50), d('me', 1), d('c', 30)], 'me');
    expect(sorted.map((x) => x.device)).toEqual(['me', 'b', 'c', 'a']);
  });

  it('checks a device name', () => {
    expect(checkDeviceName('  Work   laptop ')).toEqual({ name: 'Work laptop', error: null });
    expect(checkDeviceName('   ').error).toMatch(/Enter a name/);
    expect(checkDeviceName('x'.repeat(65)).error).toMatch(/64/);
  });

  it('words a link failure', () => {
    expect(linkErrorMessage({ kind: 'network', message: 'x' }, 'id.example.com')).toMatch(/id\.example\.com/);
    expect(linkErrorMessage({ kind: 'server', message: 'no such identity' }, 'h')).toBe('No such identity.');
  });
});

describe('revokedNotice', () => {
  it('says a removed computer can link again or recover, not that the ID was revoked', () => {
    const said = revokedNotice('device-removed');
    expect(said).toContain('This computer was removed from your Authentiq ID');
    expect(said).toContain('Link it again or recover your ID');
    expect(said).not.toContain('was revoked');
  });
  it('keeps the revocation wording for a revoked ID', () => {
    expect(revokedNotice('key-revoked')).toBe(REVOKED_HERE);
    expect(REVOKED_HERE).toBe('Your Authentiq ID was revoked. You can create a new one.');
  });
  it('names both when the server did not say which', () => {
    for (const r of [null, undefined]) {
      const said = revokedNotice(r);
      expect(said).toContain('revoked');
      expect(said).toContain('removed');
    }
  });
});

describe('recoverCompleteError', () => {
  const early = (at: number) => ({ kind: 'server', message: `the recovery completes at ${at}; any device of the ID may cancel it until then` });
  it('says how long is left, not the Unix time, before the waiting period is over', () => {
    const said = recoverCompleteError(early(T + 6), T + 6, NOW, 'en-US');
    expect(said).toMatch(/^Not yet: the recovery can complete in 6 s \(.+\)\. Until then, any of your ID’s devices can cancel it\.$/);
    expect(said).not.toContain(String(T + 6));
  });
  it('takes the time the server gave over the one it gave before', () => {
    expect(recoverCompleteError(early(T + 90), T + 6, NOW, 'en-US')).toContain('in 1 min 30 s');
  });
  it('blames the clocks when this computer thinks the time is past', () => {
    const said = recoverCompleteError(early(T - 1), T - 1, NOW, 'en-US');
    expect(said).toMatch(/^Not yet: the server says the waiting period ends at .+; its clock may differ/);
    expect(said).not.toContain(String(T - 1));
  });
  it('says a cancelled recovery cannot complete', () => {
    expect(recoverCompleteError({ kind: 'server', message: 'this recovery is cancelled' }, T, NOW)).toContain('was cancelled on one of your ID’s devices');
  });
  it('leaves other errors to the general wording', () => {
    expect(recoverCompleteError({ kind: 'network', message: 'x' }, T + 6, NOW)).toBe(generalErrorMessage({ kind: 'network', message: 'x' }));
    expect(recoverCompleteError({ kind: 'server', message: 'wrong recovery secret' }, T + 6, NOW)).toBe('Wrong recovery secret.');
  });
});

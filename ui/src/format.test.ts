import { describe, expect, it } from 'vitest';
import {
  avatarSlot,
  codeDigits,
  dayLabel,
  describeUserAgent,
  groupByDay,
  hostOf,
  initials,
  isServerUrl,
  looksLikeEmail,
  looksLikePhone,
  relativeTime,
  shortId,
} from './format';

const PK = 'kX3fQ9vB2mZrT7wLpA4sN8yHcE1uJ6dGoR5tVbW0qIa';

describe('shortId', () => {
  it('keeps the start and the end of a 43-character ID', () => {
    expect(shortId(PK)).toBe('kX3fQ9…bW0qIa');
  });
  it('leaves short strings alone', () => {
    expect(shortId('abc')).toBe('abc');
    expect(shortId('')).toBe('');
  });
});

describe('hostOf', () => {
  it('takes the host (with a port) of a URL', () => {
    expect(hostOf('https://shop.example/oidc/cb')).toBe('shop.example');
    expect(hostOf('http://127.0.0.1:8080/demo')).toBe('127.0.0.1:8080');
  });
  it('returns what it cannot parse', () => {
    expect(hostOf('not a url')).toBe('not a url');
  });
});

describe('describeUserAgent', () => {
  it.each([
    ['Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0', 'Firefox on Linux'],
    [
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
      'Chrome on Windows',
    ],
    [
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36 Edg/126.0',
      'Edge on Windows',
    ],
    [
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
      'Safari on macOS',
    ],
    [
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
      'Safari on iOS',
    ],
    [
      'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36',
      'Chrome on Android',
    ],
    ['curl/8.5.0', 'curl'],
  ])('%s → %s', (ua, expected) => {
    expect(describeUserAgent(ua)).toBe(expected);
  });

  it('gives null for nothing or nonsense', () => {
    expect(describeUserAgent(null)).toBeNull();
    expect(describeUserAgent('')).toBeNull();
    expect(describeUserAgent('xyz')).toBeNull();
  });
});

describe('avatars', () => {
  it('uses one or two initials', () => {
    expect(initials('My Shop')).toBe('MS');
    expect(initials('shop')).toBe('S');
    expect(initials('  the   big  store ')).toBe('TB');
    expect(initials('(Beta) Tool')).toBe('BT');
    expect(initials('')).toBe('?');
  });
  it('picks a stable colour slot among six', () => {
    const slots = ['Acme Shop', 'Northwind Forum', 'Contoso Mail', 'Fabrikam Cloud', 'My App'].map(avatarSlot);
    for (const s of slots) expect(s).toBeGreaterThanOrEqual(0), expect(s).toBeLessThan(6);
    expect(avatarSlot('Acme Shop')).toBe(avatarSlot('Acme Shop'));
    expect(new Set(slots).size).toBeGreaterThan(1);
  });
});

describe('days and times', () => {
  const now = new Date(2026, 2, 10, 15, 30).getTime(); // 10 March 2026, 15:30 local
  const ts = (y: number, m: number, d: number, h = 12) => new Date(y, m, d, h).getTime() / 1000;

  it('says Today and Yesterday by calendar day, not by 24 hours', () => {
    expect(dayLabel(ts(2026, 2, 10, 0), now)).toBe('Today');
    expect(dayLabel(ts(2026, 2, 9, 23), now)).toBe('Yesterday');
    expect(dayLabel(ts(2026, 2, 9, 0), now)).toBe('Yesterday');
  });

  it('writes older days as a date, with the year only when it differs', () => {
    // (ICU versions differ on the comma after the weekday.)
    expect(dayLabel(ts(2026, 2, 3), now, 'en-GB')).toMatch(/^Tue,? 3 March$/);
    expect(dayLabel(ts(2025, 11, 24), now, 'en-GB')).toMatch(/^Wed,? 24 December 2025$/);
  });

  it('says how long ago', () => {
    const s = now / 1000;
    expect(relativeTime(s - 10, now)).toBe('just now');
    expect(relativeTime(s - 120, now)).toBe('2 min ago');
    expect(relativeTime(s - 2 * 3600, now)).toBe('2 h ago');
  });

  it('groups decisions by day, newest first, whatever the input order', () => {
    const items = [
      { id: 'old', decided_at: ts(2026, 2, 1) },
      { id: 'today-early', decided_at: ts(2026, 2, 10, 9) },
      { id: 'yesterday', decided_at: ts(2026, 2, 9) },
      { id: 'today-late', decided_at: ts(2026, 2, 10, 14) },
    ];
    const groups = groupByDay(items, now, 'en-GB');
    expect(groups.map((g) => g.label.replace(',', ''))).toEqual(['Today', 'Yesterday', 'Sun 1 March']);
    expect(groups[0].items.map((i) => i.id)).toEqual(['today-late', 'today-early']);
  });
});

describe('input checks', () => {
  it('accepts plausible email addresses only', () => {
    expect(looksLikeEmail(' me@example.com ')).toBe(true);
    expect(looksLikeEmail('me@example')).toBe(false);
    expect(looksLikeEmail('me example.com')).toBe(false);
  });

  it('wants phone numbers in international format', () => {
    expect(looksLikePhone('+44 7700 900123')).toBe(true);
    expect(looksLikePhone('+1 (555) 010-0199')).toBe(true);
    expect(looksLikePhone('07700 900123')).toBe(false);
    expect(looksLikePhone('+0123456789')).toBe(false);
    expect(looksLikePhone('+12')).toBe(false);
  });

  it('keeps six digits of a typed code', () => {
    expect(codeDigits('12 34-56')).toBe('123456');
    expect(codeDigits('1234567')).toBe('123456');
    expect(codeDigits('abc')).toBe('');
  });

  it('accepts https server URLs, and plain http only on this computer', () => {
    expect(isServerUrl('https://id.example.com')).toBe(true);
    expect(isServerUrl('http://127.0.0.1:8080')).toBe(true);
    expect(isServerUrl('http://localhost:8080')).toBe(true);
    expect(isServerUrl('http://[::1]:8080')).toBe(true);
    expect(isServerUrl('http://id.example.com')).toBe(false);
    expect(isServerUrl('http://192.168.1.2')).toBe(false);
    expect(isServerUrl('http://localhost.evil.example')).toBe(false);
    expect(isServerUrl('id.example.com')).toBe(false);
    expect(isServerUrl('ftp://id.example.com')).toBe(false);
  });
});

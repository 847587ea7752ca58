import { describe, expect, it } from 'vitest';
import { hashOf, parseHash, tabOf, type Route } from './router';

describe('router', () => {
  it('round-trips every route through the hash', () => {
    const routes: Route[] = [
      { name: 'home' },
      { name: 'history' },
      { name: 'settings' },
      { name: 'request', id: '3fa2c1' },
      { name: 'request', id: 'a/b c' },
      { name: 'verify', scope: 'email' },
      { name: 'verify', scope: 'phone' },
    ];
    for (const r of routes) expect(parseHash(hashOf(r))).toEqual(r);
  });

  it('falls back to home for anything unknown or incomplete', () => {
    for (const h of ['', '#', '#/', '#/nope', '#/request', '#/verify/fax']) {
      expect(parseHash(h)).toEqual({ name: 'home' });
    }
  });

  it('puts the request and verify screens under the Home tab', () => {
    expect(tabOf({ name: 'request', id: 'x' })).toBe('home');
    expect(tabOf({ name: 'verify', scope: 'email' })).toBe('home');
    expect(tabOf({ name: 'history' })).toBe('history');
  });
});

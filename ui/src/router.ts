// Routes live in the URL hash ("#/request/3fa2c1"), so the nav bar is plain
// links. Onboarding is not a route: the app shows it while there is no ID.
import type { GrantScope } from './api';

export type Route =
  | { name: 'home' }
  | { name: 'history' }
  | { name: 'settings' }
  | { name: 'request'; id: string }
  | { name: 'verify'; scope: GrantScope };

export function parseHash(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(safeDecode);
  switch (parts[0]) {
    case 'history':
      return { name: 'history' };
    case 'settings':
      return { name: 'settings' };
    case 'request':
      return parts[1] ? { name: 'request', id: parts[1] } : { name: 'home' };
    case 'verify':
      return parts[1] === 'email' || parts[1] === 'phone'
        ? { name: 'verify', scope: parts[1] }
        : { name: 'home' };
    default:
      return { name: 'home' };
  }
}

export function hashOf(route: Route): string {
  switch (route.name) {
    case 'request':
      return `#/request/${encodeURIComponent(route.id)}`;
    case 'verify':
      return `#/verify/${route.scope}`;
    default:
      return `#/${route.name}`;
  }
}

/** The nav tab a route belongs to. */
export function tabOf(route: Route): 'home' | 'history' | 'settings' {
  if (route.name === 'history' || route.name === 'settings') return route.name;
  return 'home';
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Navigates; re-renders even when the route is the current one. */
export function go(route: Route): void {
  const hash = hashOf(route);
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = hash;
}

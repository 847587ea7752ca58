// The app shell (header, screen area, nav bar) and a tiny hash router.
import { api, on, type CommandError } from './api';
import { REVOKED_HERE, revokedNotice as noticeFor } from './device-logic';
import { hostOf } from './format';
import { generalErrorMessage } from './request-logic';
import { go, hashOf, parseHash, tabOf, type Route } from './router';
import { DEVICES_CHANGED, deviceBanner } from './screens/devices';
import { historyScreen } from './screens/history';
import { homeScreen } from './screens/home';
import { onboardingScreen } from './screens/onboarding';
import { requestScreen } from './screens/request';
import { settingsScreen } from './screens/settings';
import type { Screen } from './screens/types';
import { verifyScreen } from './screens/verify';
import { store } from './store';
import { h, replace, spinner } from './ui/dom';
import { icon, logo, type IconName } from './ui/icons';
import { onTick } from './ui/ticker';
import { toast } from './ui/toast';

const TABS: { tab: 'home' | 'history' | 'settings'; label: string; icon: IconName }[] = [
  { tab: 'home', label: 'Home', icon: 'home' },
  { tab: 'history', label: 'History', icon: 'history' },
  { tab: 'settings', label: 'Settings', icon: 'settings' },
];

interface Shell {
  main: HTMLElement;
  banner: HTMLElement;
  nav: HTMLElement;
  links: Map<string, HTMLAnchorElement>;
  badge: HTMLElement;
  connection: HTMLElement;
}

function buildShell(root: HTMLElement): Shell {
  const connection = h(
    'span',
    { id: 'connection', class: 'connection', role: 'status', 'aria-live': 'polite', hidden: true },
    h('span', { class: 'connection-dot', 'aria-hidden': 'true' }),
    h('span', { class: 'connection-text' }),
  );
  const header = h(
    'header',
    { class: 'app-bar' },
    h('span', { class: 'brand' }, logo(), h('span', { class: 'brand-name' }, 'Authentiq')),
    connection,
  );
  const main = h('main', { id: 'app', class: 'app-main', tabindex: '-1' });
  // What the ID's other devices ask of this one, above whatever screen is open.
  const banner = h('div', { id: 'device-banner', class: 'device-banner', hidden: true });
  const links = new Map<string, HTMLAnchorElement>();
  // The count is in the link's name ("Home, 2 pending …"); the badge shows
  // it to the eye from CSS (`data-count`), so the link's visible text stays
  // "Home", which its name begins with (WCAG 2.5.3, label in name).
  const badge = h('span', { class: 'nav-badge', hidden: true, 'aria-hidden': 'true' });
  const list = h('ul', { class: 'nav-list' });
  for (const t of TABS) {
    const a = h(
      'a',
      { id: `nav-${t.tab}`, class: 'nav-link', href: hashOf({ name: t.tab }) },
      h('span', { class: 'nav-icon' }, icon(t.icon), t.tab === 'home' ? badge : null),
      h('span', { class: 'nav-label' }, t.label),
    );
    links.set(t.tab, a);
    list.append(h('li', null, a));
  }
  const nav = h('nav', { class: 'app-nav', 'aria-label': 'Main', hidden: true }, list);
  replace(root, header, banner, main, nav);
  return { main, banner, nav, links, badge, connection };
}

export function startApp(root: HTMLElement): void {
  const shell = buildShell(root);
  const banner = deviceBanner(shell.banner);
  let current: Screen | null = null;
  let onboarding = false;
  let booted = false;
  /** Said on the onboarding that follows a revocation elsewhere. */
  let revokedNotice: string | null = null;

  function mount(screen: Screen, focus: boolean): void {
    current?.destroy?.();
    current = screen;
    replace(shell.main, screen.el);
    shell.main.scrollTop = 0;
    document.title = `${screen.title} — Authentiq`;
    if (focus) {
      const target = screen.focusTarget ?? screen.el.querySelector<HTMLElement>('h1') ?? shell.main;
      target.focus({ preventScroll: true });
    }
  }

  function setTab(route: Route | null): void {
    const active = route ? tabOf(route) : null;
    for (const [tab, a] of shell.links) {
      if (tab === active) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
  }

  function renderChrome(): void {
    const s = store.status;
    const hasId = Boolean(s?.profile) && !onboarding;
    shell.nav.hidden = !hasId;
    shell.connection.hidden = !hasId;
    banner.setActive(hasId);
    document.body.classList.toggle('is-onboarding', onboarding);
    if (!s) return;
    const text = shell.connection.querySelector('.connection-text');
    shell.connection.classList.toggle('is-online', s.connected);
    if (text) text.textContent = s.connected ? 'Connected' : s.channel_problem ? 'Keyring' : 'Offline';
    shell.connection.title = s.profile
      ? s.connected
        ? `Connected to ${hostOf(s.profile.server)}: requests arrive instantly.`
        : (s.channel_problem ?? `Not connected to ${hostOf(s.profile.server)}. Reconnecting…`)
      : '';
    const n = store.pending().length;
    shell.badge.dataset.count = n > 9 ? '9+' : String(n);
    shell.badge.hidden = n === 0;
    shell.links.get('home')?.setAttribute('aria-label', n > 0 ? `Home, ${n} pending sign-in request${n === 1 ? '' : 's'}` : 'Home');
  }

  function startOnboarding(notice?: string, unsavedSecret?: string): void {
    onboarding = true;
    document.body.dataset.route = 'onboarding';
    setTab(null);
    renderChrome();
    mount(
      onboardingScreen({
        defaultServer: store.status?.default_server ?? null,
        notice,
        unsavedSecret,
        unsavedSecretKind: store.status?.unsaved_secret_kind ?? 'revocation',
        linking: unsavedSecret ? null : (store.status?.linking ?? null),
        recovering: unsavedSecret ? null : (store.status?.recovering ?? null),
        onFinish: () => {
          void store
            .refresh()
            .catch(() => null)
            .then(() => {
              onboarding = false;
              renderChrome();
              toast('You’re all set');
              if (location.hash === hashOf({ name: 'home' })) renderRoute();
              else go({ name: 'home' });
            });
        },
      }),
      booted,
    );
  }

  function screenFor(route: Route): Screen {
    switch (route.name) {
      case 'history':
        return historyScreen();
      case 'settings':
        return settingsScreen({
          onRevoked: () => {
            void store
              .refresh()
              .catch(() => null)
              .then(() => {
                if (!store.status?.profile) startOnboarding(REVOKED_HERE);
                else renderRoute();
              });
          },
        });
      case 'request':
        return requestScreen(route.id);
      case 'verify':
        return verifyScreen(route.scope, (grant) => {
          toast(grant.scope === 'email' ? 'Email address verified' : 'Phone number verified');
          void store
            .refresh()
            .catch(() => null)
            .then(() => go({ name: 'home' }));
        });
      default:
        return homeScreen();
    }
  }

  function renderRoute(): void {
    if (onboarding) return;
    if (!store.status?.profile) {
      startOnboarding();
      return;
    }
    if (store.status.secret_unsaved) {
      // The window was closed on the revocation-secret step: back to it.
      onboarding = true;
      void api
        .unsavedSecret()
        .catch(() => null)
        .then((secret) => {
          onboarding = false;
          if (secret) {
            startOnboarding(undefined, secret);
            return;
          }
          if (store.status) store.status.secret_unsaved = false;
          renderRoute();
        });
      return;
    }
    const route = parseHash(location.hash);
    document.body.dataset.route = route.name;
    setTab(route);
    renderChrome();
    mount(screenFor(route), booted);
  }

  function fatal(err: CommandError): void {
    const retry = h('button', { type: 'button', class: 'btn btn-primary' }, 'Try again');
    retry.addEventListener('click', () => void boot());
    const title = h('h1', { class: 'empty-title', tabindex: '-1' }, err.kind === 'keyring' ? 'Your keyring is locked' : 'Authentiq can’t start');
    mount(
      {
        el: h(
          'section',
          { class: 'screen' },
          h(
            'div',
            { class: 'empty empty-tall' },
            h('span', { class: 'empty-icon empty-icon-error' }, icon(err.kind === 'keyring' ? 'lock' : 'alert')),
            title,
            h('p', { class: 'muted', role: 'alert', id: 'fatal-error' }, generalErrorMessage(err)),
            retry,
          ),
        ),
        title: 'Error',
        focusTarget: title,
      },
      booted,
    );
  }

  async function boot(): Promise<void> {
    replace(shell.main, h('div', { class: 'loading loading-tall' }, spinner(), 'Starting…'));
    try {
      await store.refresh();
    } catch (err) {
      fatal(err as CommandError);
      booted = true;
      return;
    }
    renderRoute();
    booted = true;
  }

  /** Once, after the first screen (or the error) of the first boot is on screen. */
  function reportFirstPaint(): void {
    // A rAF callback runs before the frame is painted; a task queued from it runs after.
    requestAnimationFrame(() => setTimeout(() => void api.uiPainted().catch(() => null), 0));
  }

  store.subscribe(() => {
    renderChrome();
    // Revoked elsewhere (e.g. by the CLI): back to the start.
    if (booted && !onboarding && store.status && !store.status.profile) startOnboarding(revokedNotice ?? undefined);
  });
  // Requests expire between events: keep the nav badge honest.
  let lastCount = -1;
  onTick(() => {
    const n = store.pending().length;
    if (n !== lastCount) {
      lastCount = n;
      renderChrome();
    }
  });
  window.addEventListener('hashchange', () => {
    if (booted) renderRoute();
  });

  const quiet = (p: Promise<unknown>) => void p.catch((e) => console.error('listen failed', e));
  quiet(on('requests-changed', (list) => store.setPending(list)));
  quiet(on('connection', (p) => store.setConnected(p.connected, p.problem)));
  quiet(on('device-requests-changed', (list) => store.setDeviceRequests(list)));
  // Settings → Devices reloads its list.
  quiet(on('devices-changed', () => window.dispatchEvent(new Event(DEVICES_CHANGED))));
  // A link that leads nowhere (expired, answered, another server…) says so.
  quiet(on('link-error', (p) => toast(`That sign-in link didn’t open: ${p.message}`, 'info', 8000)));
  quiet(
    on('revoked', (p) => {
      revokedNotice = noticeFor(p?.reason);
      void store.refresh().catch(() => null);
    }),
  );
  quiet(on('navigate', (p) => {
    if (p.screen !== 'request' || onboarding) return;
    // The request may be newer than our copy of the inbox.
    const route: Route = { name: 'request', id: p.id };
    // Already on it (e.g. the notification was clicked twice): keep the user's picks.
    const open = () => {
      if (location.hash !== hashOf(route)) go(route);
    };
    if (store.find(p.id)) open();
    else void store.refresh().catch(() => null).then(open);
  }));

  void boot().then(reportFirstPaint);
}

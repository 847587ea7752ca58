// Home: the Authentiq ID card, pending sign-in requests (live), verified
// claims, and opening a sign-in link by hand.
import { api, type CommandError, type Grant, type GrantScope, type RequestView } from '../api';
import { avatarSlot, describeUserAgent, hostOf, initials, shortId } from '../format';
import {
  countdownLabel,
  countdownUrgency,
  formatCountdown,
  bindingMessage,
  generalErrorMessage,
  isBackchannel,
  knownPurpose,
  requestTitle,
  secondsLeft,
} from '../request-logic';
import { go, hashOf } from '../router';
import { store } from '../store';
import { copyText } from '../ui/clipboard';
import { infoDialog } from '../ui/dialog';
import { busy, h, keepFocus, metaLine, replace } from '../ui/dom';
import { icon } from '../ui/icons';
import { onTick } from '../ui/ticker';
import { toast } from '../ui/toast';
import type { Screen } from './types';

export function avatar(name: string, cls = ''): HTMLElement {
  return h('span', { class: `avatar avatar-c${avatarSlot(name)} ${cls}`.trim(), 'aria-hidden': 'true' }, initials(name));
}

/** The countdown pill used on Home and the request screen. */
export function countdownPill(expiresAt: number, nowMs: number): HTMLElement {
  const pill = h('span', { class: 'countdown' }, icon('clock'), h('span', { class: 'countdown-text' }));
  updateCountdownPill(pill, expiresAt, nowMs);
  return pill;
}

export function updateCountdownPill(pill: HTMLElement, expiresAt: number, nowMs: number): number {
  const left = secondsLeft(expiresAt, nowMs);
  const text = pill.querySelector('.countdown-text');
  if (text) text.textContent = left > 0 ? formatCountdown(left) : 'Expired';
  pill.classList.toggle('countdown-soon', countdownUrgency(left) === 'soon');
  pill.classList.toggle('countdown-expired', left === 0);
  pill.setAttribute('aria-label', left > 0 ? `Expires in ${countdownLabel(left)}` : 'Expired');
  return left;
}

const SCOPE_TEXT: Record<GrantScope, { icon: 'mail' | 'phone'; label: string; add: string }> = {
  email: { icon: 'mail', label: 'Email', add: 'Verify an email address' },
  phone: { icon: 'phone', label: 'Phone', add: 'Add a phone number' },
};

export function homeScreen(): Screen {
  const el = h('section', { id: 'home', class: 'screen home', 'aria-labelledby': 'home-title' });
  const title = h('h1', { id: 'home-title', class: 'sr-only', tabindex: '-1' }, 'Home');

  // --- ID card -------------------------------------------------------------
  const profile = store.status?.profile;
  const pk = profile?.pk ?? '';
  const myId = h('code', { id: 'my-id', class: 'id-value', title: pk, 'data-pk': pk }, shortId(pk));
  const copyBtn = h(
    'button',
    { type: 'button', class: 'btn btn-on-brand btn-sm', id: 'copy-id', 'aria-label': 'Copy ID (your full Authentiq ID)' },
    icon('copy'),
    h('span', null, 'Copy ID'),
  );
  copyBtn.addEventListener('click', async () => {
    const r = await copyText(pk, myId);
    toast(r === 'copied' ? 'Authentiq ID copied' : 'Selected — press Ctrl+C to copy', r === 'copied' ? 'ok' : 'info');
  });
  const qrImg = h('img', { id: 'id-qr', class: 'qr-img', alt: 'QR code of your Authentiq ID', width: '88', height: '88' });
  const qrBtn = h(
    'button',
    { type: 'button', class: 'qr-button is-loading', 'aria-label': 'Show your Authentiq ID as a large QR code', title: 'Show larger' },
    qrImg,
  );
  let qrSrc = '';
  void api
    .idQrSvg()
    .then((svg) => {
      qrSrc = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
      qrImg.src = qrSrc;
      qrBtn.classList.remove('is-loading');
    })
    .catch(() => {
      qrBtn.classList.add('is-failed');
      qrBtn.disabled = true;
      qrBtn.setAttribute('aria-label', 'QR code unavailable');
    });
  qrBtn.addEventListener('click', () => {
    if (!qrSrc) return;
    const big = h('img', { class: 'qr-large', src: qrSrc, alt: 'QR code of your Authentiq ID' });
    const full = h('code', { class: 'id-full' }, pk);
    const copy = h('button', { type: 'button', class: 'btn btn-secondary btn-sm' }, icon('copy'), 'Copy ID');
    copy.addEventListener('click', async () => {
      const r = await copyText(pk, full);
      copy.replaceChildren(icon(r === 'copied' ? 'check' : 'copy'), r === 'copied' ? 'Copied' : 'Selected — press Ctrl+C');
    });
    void infoDialog({
      title: 'Your Authentiq ID',
      className: 'dialog-qr',
      body: [h('div', { class: 'qr-frame' }, big), full, h('div', { class: 'center' }, copy)],
    });
  });

  const card = h(
    'div',
    { class: 'id-card' },
    h(
      'div',
      { class: 'id-card-main' },
      h('p', { class: 'id-label' }, 'Your Authentiq ID'),
      myId,
      h('p', { class: 'id-server' }, icon('server'), h('span', null, profile ? hostOf(profile.server) : '')),
      copyBtn,
    ),
    qrBtn,
  );

  // --- Pending requests ------------------------------------------------------
  const pendingCount = h('span', { class: 'count', 'aria-hidden': 'true' });
  const pendingList = h('ul', { id: 'pending-list', class: 'list request-list', 'aria-labelledby': 'pending-title' });
  const pendingEmpty = h(
    'div',
    { class: 'empty' },
    h('span', { class: 'empty-icon' }, icon('inbox')),
    h('p', { class: 'empty-title' }, 'No sign-in requests'),
    h('p', { class: 'muted' }, 'When you sign in to a website with Authentiq, the request shows up here and as a notification.'),
  );
  const pills = new Map<string, { pill: HTMLElement; expires: number; li: HTMLElement }>();

  function requestItem(r: RequestView, now: number): HTMLElement {
    const pill = countdownPill(r.expires_at, now);
    const backchannel = isBackchannel(r);
    // A backchannel request comes from the client's server: no browser to name.
    const ua = backchannel ? null : describeUserAgent(r.user_agent);
    const message = bindingMessage(r);
    const link = h(
      'a',
      {
        class: 'request-item',
        href: hashOf({ name: 'request', id: r.id }),
        'data-request-id': r.id,
        'data-purpose': knownPurpose(r.purpose),
        'data-backchannel': String(backchannel),
      },
      avatar(r.client_name),
      h(
        'span',
        { class: 'request-item-body' },
        h('span', { class: 'request-item-title' }, requestTitle(r.purpose, r, r.client_name)),
        message !== null ? h('span', { class: 'request-item-message' }, `“${message}”`) : null,
        h('span', { class: 'request-item-meta' }, metaLine([r.ip, ua])),
      ),
      pill,
      icon('chevronRight', 'chevron'),
    );
    const li = h('li', null, link);
    pills.set(r.id, { pill, expires: r.expires_at, li });
    return li;
  }

  function renderPending(): void {
    const now = Date.now();
    const list = store.pending(now);
    pills.clear();
    replace(pendingList, list.map((r) => requestItem(r, now)));
    pendingEmpty.hidden = list.length > 0;
    pendingCount.textContent = list.length > 0 ? String(list.length) : '';
    pendingCount.hidden = list.length === 0;
  }

  // --- Verified claims ------------------------------------------------------
  const verifiedList = h('ul', { id: 'verified-list', class: 'list claim-list', 'aria-labelledby': 'verified-title' });
  const addList = h('ul', { class: 'list add-list' });

  function grantRow(g: Grant): HTMLElement {
    const t = SCOPE_TEXT[g.scope] ?? SCOPE_TEXT.email;
    return h(
      'li',
      { class: 'claim-row', 'data-scope': g.scope },
      h('span', { class: 'claim-icon' }, icon(t.icon)),
      h(
        'span',
        { class: 'claim-body' },
        h('span', { class: 'claim-head' }, h('span', { class: 'claim-label' }, t.label), h('span', { class: 'badge badge-ok' }, icon('check'), 'Verified')),
        h('span', { class: 'claim-value' }, g.value),
      ),
    );
  }

  function renderVerified(): void {
    const grants = store.status?.profile?.verified ?? [];
    replace(verifiedList, grants.map(grantRow));
    const have = new Set(grants.map((g) => g.scope));
    const missing = (['email', 'phone'] as GrantScope[]).filter((s) => !have.has(s));
    replace(
      addList,
      missing.map((s) =>
        h(
          'li',
          null,
          h(
            'a',
            { class: 'add-row', href: hashOf({ name: 'verify', scope: s }), id: `add-${s}` },
            h('span', { class: 'claim-icon claim-icon-add' }, icon(SCOPE_TEXT[s].icon)),
            h('span', { class: 'claim-body' }, SCOPE_TEXT[s].add),
            icon('chevronRight', 'chevron'),
          ),
        ),
      ),
    );
    addList.hidden = missing.length === 0;
  }

  // --- Open a sign-in link ----------------------------------------------------
  const linkInput = h('input', {
    id: 'session-uri',
    class: 'input',
    type: 'text',
    inputmode: 'url',
    spellcheck: 'false',
    autocomplete: 'off',
    placeholder: 'authentiq://… or https://…',
    'aria-describedby': 'session-uri-hint session-uri-error',
  });
  const linkError = h('p', { id: 'session-uri-error', class: 'form-error is-empty', role: 'alert' });
  const linkBtn = h('button', { type: 'submit', class: 'btn btn-secondary', id: 'session-open' }, 'Open');
  const linkForm = h(
    'form',
    { class: 'link-form', novalidate: true },
    h('label', { for: 'session-uri', class: 'label' }, 'Sign-in link'),
    h('p', { id: 'session-uri-hint', class: 'hint' }, 'Paste the link from a sign-in page (under its QR code).'),
    h('div', { class: 'input-row' }, linkInput, linkBtn),
    linkError,
  );
  linkForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const uri = linkInput.value.trim();
    if (!uri) {
      linkError.textContent = 'Paste a sign-in link first.';
      linkError.classList.remove('is-empty');
      linkInput.focus();
      return;
    }
    const restore = busy(linkBtn, 'Opening…');
    try {
      const view = await api.openSession(uri);
      store.remember(view);
      go({ name: 'request', id: view.id });
    } catch (err) {
      restore();
      linkError.textContent = generalErrorMessage(err as CommandError);
      linkError.classList.remove('is-empty');
      linkInput.focus();
    }
  });

  // The channel cannot run (e.g. the keyring is locked): say why, and let
  // the user try again once they have fixed it (asking for the status
  // wakes the channel).
  const problemText = h('span', null);
  const retry = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', id: 'channel-retry' }, 'Try again');
  retry.addEventListener('click', () => {
    const restore = busy(retry, 'Trying…');
    void store
      .refresh()
      .catch(() => null)
      .finally(restore);
  });
  const problem = h(
    'div',
    { class: 'callout callout-warn', role: 'alert', id: 'channel-problem', hidden: true },
    icon('lock'),
    h('div', null, h('strong', null, 'Sign-in requests can’t reach this computer. '), problemText, ' ', retry),
  );
  function renderProblem(): void {
    const why = store.status?.channel_problem ?? null;
    problem.hidden = why === null;
    problemText.textContent = why ?? '';
  }

  el.append(
    title,
    problem,
    card,
    h(
      'section',
      { class: 'section', 'aria-labelledby': 'pending-title' },
      h('h2', { id: 'pending-title', class: 'section-title' }, 'Sign-in requests', pendingCount),
      pendingList,
      pendingEmpty,
    ),
    h(
      'section',
      { class: 'section', 'aria-labelledby': 'verified-title' },
      h('h2', { id: 'verified-title', class: 'section-title' }, 'Verified'),
      verifiedList,
      addList,
    ),
    h(
      'details',
      { class: 'section disclosure' },
      h('summary', null, icon('link'), h('span', null, 'Have a sign-in link?'), icon('chevronRight', 'chevron')),
      linkForm,
    ),
  );

  let destroyed = false;
  renderPending();
  renderVerified();
  renderProblem();
  const unsub = store.subscribe(() => {
    keepFocus(pendingList, renderPending);
    keepFocus(addList, renderVerified);
    renderProblem();
  });
  const untick = onTick((now) => {
    let expired = false;
    for (const { pill, expires, li } of pills.values()) {
      if (updateCountdownPill(pill, expires, now) === 0) {
        li.classList.add('is-expired');
        expired = true;
      }
    }
    // Expired requests leave the list a moment after reaching 0:00.
    if (expired) {
      setTimeout(() => {
        if (!destroyed) keepFocus(pendingList, renderPending);
      }, 1500);
    }
  });

  return {
    el,
    title: 'Home',
    focusTarget: title,
    destroy: () => {
      destroyed = true;
      unsub();
      untick();
    },
  };
}

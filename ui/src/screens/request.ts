// One sign-in request: who asks, from where, what they get; the user picks
// the number shown on the sign-in page, then approves, denies or reports. A
// backchannel request (the client's backend started it: no page, no number)
// shows the client's binding message to check instead, and only Approve and
// Deny. The decisions themselves are in ../request-logic.ts.
import { api, type Claim, type CommandError, type RequestView } from '../api';
import { clockTime, describeUserAgent, fullDateTime, hostOf, isoTime, relativeTime } from '../format';
import {
  approveBlocker,
  approveHint,
  approveNumber,
  bindingCheck,
  bindingMessage,
  canDeny,
  claimState,
  displayedClaims,
  initialSelection,
  isBackchannel,
  isChecked,
  isToggleable,
  isWrongNumber,
  knownPurpose,
  numbersQuestion,
  requestAsk,
  requestErrorMessage,
  requestTitle,
  resultText,
  secondsLeft,
  sharedClaims,
  toggleClaim,
  type Phase,
  unavailableNote,
} from '../request-logic';
import { go, hashOf } from '../router';
import { store } from '../store';
import { confirmDialog } from '../ui/dialog';
import { busy, h, replace, spinner } from '../ui/dom';
import { icon, type IconName } from '../ui/icons';
import { onTick } from '../ui/ticker';
import { avatar, countdownPill, updateCountdownPill } from './home';
import type { Screen } from './types';

/** How long the result stays before the app returns home. */
const RESULT_MS = 3000;

export function requestScreen(id: string): Screen {
  const el = h('section', { id: 'request', class: 'screen request', 'data-request-id': id, 'aria-busy': 'true' });
  const title = h('h1', { class: 'sr-only', tabindex: '-1' }, 'Sign-in request');
  el.append(title, h('div', { class: 'loading' }, spinner(), 'Loading the request…'));
  let teardown: (() => void) | null = null;
  let destroyed = false;

  const found = store.find(id);
  if (found) {
    teardown = render(el, found, () => destroyed);
  } else {
    void store
      .refresh()
      .catch(() => null)
      .then(() => {
        if (destroyed) return;
        const view = store.find(id);
        teardown = view ? render(el, view, () => destroyed) : renderMissing(el, id);
        el.querySelector<HTMLElement>('h1')?.focus({ preventScroll: true });
      });
  }

  return {
    el,
    title: found ? requestTitle(found.purpose, found, found.client_name) : 'Sign-in request',
    get focusTarget() {
      return el.querySelector<HTMLElement>('h1') ?? title;
    },
    destroy: () => {
      destroyed = true;
      teardown?.();
    },
  };
}

function backLink(): HTMLElement {
  return h('a', { class: 'back-link', href: hashOf({ name: 'home' }) }, icon('chevronLeft'), 'Home');
}

function renderMissing(el: HTMLElement, id: string): () => void {
  el.removeAttribute('aria-busy');
  replace(
    el,
    h('div', { class: 'request-top' }, backLink()),
    h(
      'div',
      { class: 'empty empty-tall' },
      h('span', { class: 'empty-icon' }, icon('inbox')),
      h('h1', { class: 'empty-title', tabindex: '-1' }, 'Request not available'),
      h(
        'p',
        { id: 'request-error', class: 'muted', role: 'alert' },
        'This sign-in request was answered, cancelled or has expired. Start again on the website if you still want to sign in.',
      ),
      h('a', { class: 'btn btn-secondary', href: hashOf({ name: 'home' }) }, 'Back to Home'),
    ),
  );
  el.dataset.requestId = id;
  return () => {};
}

function render(el: HTMLElement, r: RequestView, isDestroyed: () => boolean): () => void {
  el.removeAttribute('aria-busy');
  el.dataset.purpose = knownPurpose(r.purpose);
  const backchannel = isBackchannel(r);
  el.dataset.backchannel = String(backchannel);
  // A request found only after loading: the window title follows.
  document.title = `${requestTitle(r.purpose, r, r.client_name)} — Authentiq`;
  const claims = displayedClaims(r.claims);
  let phase: Phase = 'pending';
  let picked: number | null = null;
  let selection = initialSelection(r.claims);
  let remember = false;
  let resultTimer: ReturnType<typeof setTimeout> | undefined;
  const seenInInbox = () => store.isPending(r.id);
  let wasInInbox = seenInInbox();

  // --- Header: back, countdown, client ---------------------------------------
  const pill = countdownPill(r.expires_at, Date.now());
  pill.id = 'request-countdown';
  const heading = h(
    'h1',
    { class: 'client-title', tabindex: '-1' },
    h('span', { id: 'client-name' }, r.client_name),
    h('span', { class: 'client-sub' }, requestAsk(r.purpose, r)),
  );
  const origin = r.client_uri
    ? h('p', { class: 'client-origin', title: r.client_uri }, icon('globe'), h('span', null, hostOf(r.client_uri)))
    : h('p', { class: 'client-origin' }, icon('globe'), h('span', null, r.client_id));

  // --- Requester ---------------------------------------------------------------
  const uaText = describeUserAgent(r.user_agent) ?? 'Unknown browser';
  const reportBtn = h('button', { type: 'button', id: 'report', class: 'btn-link btn-link-danger' }, icon('flag'), 'This wasn’t me');
  const requester = h(
    'div',
    { id: 'requester', class: 'card requester' },
    h('h2', { class: 'sr-only' }, 'Where the request comes from'),
    h(
      'dl',
      { class: 'facts' },
      fact('pin', backchannel ? `IP address of ${r.client_name}’s service` : 'IP address', h('span', { class: 'mono' }, r.ip)),
      // A backchannel request comes from the client's server, not a browser.
      backchannel ? null : fact('monitor', 'Browser', h('span', { title: r.user_agent ?? '' }, uaText)),
      fact(
        'clock',
        'Time',
        h(
          'time',
          { datetime: isoTime(r.received_at), title: fullDateTime(r.received_at) },
          `${clockTime(r.received_at)} · ${relativeTime(r.received_at, Date.now())}`,
        ),
      ),
    ),
    h('p', { class: 'requester-foot' }, h('span', { class: 'muted' }, 'Don’t recognise this?'), reportBtn),
  );

  // --- Claims ------------------------------------------------------------------
  const claimsList = h('ul', { id: 'claims', class: 'list claim-choices' });
  const checkboxes = new Map<string, HTMLInputElement>();
  claims.forEach((c, i) => {
    const inputId = `claim-${i}`;
    const box = h('input', { type: 'checkbox', id: inputId, class: 'checkbox', name: c.name });
    box.checked = isChecked(c, selection);
    box.disabled = !isToggleable(c);
    box.addEventListener('change', () => {
      selection = toggleClaim(r.claims, selection, c.name, box.checked);
      box.checked = isChecked(c, selection);
    });
    checkboxes.set(c.name, box);
    claimsList.append(claimRow(c, box, inputId));
  });
  const rememberBox = h('input', { type: 'checkbox', id: 'remember', class: 'checkbox' });
  rememberBox.addEventListener('change', () => {
    remember = rememberBox.checked;
  });
  const claimsSection = h(
    'section',
    { class: 'section', 'aria-labelledby': 'claims-title' },
    h('h2', { id: 'claims-title', class: 'section-title' }, `${r.client_name} will receive`),
    claims.length > 0 ? claimsList : h('p', { class: 'muted none-shared' }, 'Only your Authentiq ID (a different one for each website) — no personal details.'),
    r.wants_push
      ? h(
          'label',
          { class: 'check-row remember', for: 'remember' },
          rememberBox,
          h(
            'span',
            null,
            h('span', { class: 'check-title' }, 'Remember this browser'),
            h('span', { class: 'hint' }, 'Next time, its sign-in requests come straight to this app.'),
          ),
        )
      : null,
  );
  if (claims.length === 0) claimsSection.prepend(claimsList);

  // --- Numbers, or the message to check ---------------------------------------------
  const numberButtons = (backchannel ? [] : r.numbers).map((n) =>
    h(
      'button',
      { type: 'button', class: 'number', 'data-number': String(n), 'aria-pressed': 'false' },
      h('span', { class: 'number-value' }, String(n)),
      h('span', { class: 'number-check' }, icon('check')),
    ),
  );
  numberButtons.forEach((b, i) =>
    b.addEventListener('click', () => {
      if (phase !== 'pending') return;
      picked = r.numbers[i];
      clearError();
      update();
    }),
  );
  const check = bindingCheck(r, r.client_name);
  const message = bindingMessage(r);
  const numbersSection = check
    ? h(
        'section',
        { id: 'binding', class: 'section binding-section', 'aria-labelledby': 'binding-title' },
        h('h2', { id: 'binding-title', class: 'section-title' }, check.title),
        message !== null
          ? h('p', { id: 'binding-message', class: 'binding-message' }, message)
          : null,
        h(
          'p',
          { class: 'hint' },
          `${r.client_name} started this sign-in itself, without a sign-in page, so there is no number to pick.`,
        ),
      )
    : h(
        'section',
        { class: 'section numbers-section', 'aria-labelledby': 'numbers-title' },
        h('h2', { id: 'numbers-title', class: 'section-title' }, numbersQuestion(r.purpose, r.client_name)),
        h('div', { class: 'numbers', role: 'group', 'aria-labelledby': 'numbers-title' }, numberButtons),
      );
  const approveInput = () => ({ phase, picked, numbers: r.numbers, claims: r.claims, backchannel });

  // --- Error, actions, result ------------------------------------------------------
  const error = h('div', { id: 'request-error', class: 'request-error is-empty', role: 'alert' });
  const approveBtn = h('button', { type: 'button', id: 'approve', class: 'btn btn-primary btn-lg', disabled: true, 'aria-describedby': 'approve-hint' }, icon('check'), 'Approve');
  const denyBtn = h('button', { type: 'button', id: 'deny', class: 'btn btn-secondary btn-lg' }, 'Deny');
  const hint = h('p', { id: 'approve-hint', class: 'hint center' });
  const actionsRow = h('div', { class: 'actions-row' }, denyBtn, approveBtn);
  // The error sits in the sticky action bar, so it is in view whatever the scroll.
  const actions = h('div', { class: 'actions' }, error, actionsRow, hint);
  // Gets its id (#request-result) only once there is a result to show.
  const result = h('div', { class: 'result', role: 'status', hidden: true });

  replace(
    el,
    h('div', { class: 'request-top' }, backLink(), pill),
    h('header', { class: 'client' }, avatar(r.client_name, 'avatar-lg'), h('div', { class: 'client-text' }, heading, origin)),
    requester,
    numbersSection,
    claimsSection,
    actions,
    result,
  );

  function setError(message: string, tone: 'error' | 'warn' = 'error'): void {
    replace(error, icon(tone === 'warn' ? 'clock' : 'alert'), h('span', null, message));
    error.classList.remove('is-empty');
    error.classList.toggle('request-error-warn', tone === 'warn');
  }

  function clearError(): void {
    error.replaceChildren();
    error.classList.add('is-empty');
  }

  function update(): void {
    const open = phase === 'pending';
    for (const [i, b] of numberButtons.entries()) {
      const on = picked === r.numbers[i];
      b.setAttribute('aria-pressed', String(on));
      b.classList.toggle('is-picked', on);
      b.disabled = !open;
    }
    for (const c of claims) {
      const box = checkboxes.get(c.name);
      if (box) box.disabled = !open || !isToggleable(c);
    }
    rememberBox.disabled = !open;
    const blocker = approveBlocker(approveInput());
    if (!approveBtn.hasAttribute('aria-busy')) approveBtn.disabled = blocker !== null;
    if (!denyBtn.hasAttribute('aria-busy')) denyBtn.disabled = !canDeny(phase);
    reportBtn.disabled = !canDeny(phase);
    // A backchannel request's Approve is described by what to check first.
    hint.textContent = approveHint(blocker, r.client_name, r.claims, r.purpose) || (blocker === null && check ? check.approveOnly : '');
    hint.hidden = hint.textContent === '';
    el.dataset.phase = phase;
  }

  function close(): void {
    // A finished request: offer only the way back.
    actionsRow.replaceWith(h('a', { class: 'btn btn-secondary btn-lg btn-block', href: hashOf({ name: 'home' }) }, 'Back to Home'));
    hint.hidden = true;
  }

  function fail(err: unknown): void {
    const m = requestErrorMessage(err as CommandError, r.client_name);
    if (m.terminal) {
      phase = 'failed';
      if (picked !== null && isWrongNumber(err as CommandError)) {
        numberButtons.find((b) => b.dataset.number === String(picked))?.classList.add('is-wrong');
      }
    } else {
      phase = 'pending';
    }
    setError(m.message);
    update();
    if (phase === 'failed') close();
  }

  function finish(kind: 'approved' | 'denied' | 'reported'): void {
    phase = 'done';
    update();
    const icons: Record<typeof kind, IconName> = { approved: 'check', denied: 'x', reported: 'flag' };
    const ic = icons[kind];
    const [t, d] = resultText(kind, r.purpose, r.client_name, r);
    const done = h('a', { class: 'btn btn-secondary', href: hashOf({ name: 'home' }) }, 'Done');
    replace(
      result,
      h('span', { class: `result-icon result-${kind}` }, icon(ic)),
      h('p', { class: 'result-title' }, t),
      h('p', { class: 'muted' }, d),
      done,
    );
    result.dataset.result = kind;
    result.id = 'request-result';
    result.hidden = false;
    actions.hidden = true;
    for (const part of [requester, claimsSection, numbersSection]) part.classList.add('is-dimmed');
    el.classList.add('is-finished');
    result.scrollIntoView({ block: 'nearest' });
    done.focus({ preventScroll: true });
    resultTimer = setTimeout(() => {
      if (!isDestroyed() && location.hash === hashOf({ name: 'request', id: r.id })) go({ name: 'home' });
    }, RESULT_MS);
  }

  approveBtn.addEventListener('click', async () => {
    if (approveBlocker(approveInput()) !== null) return;
    const number = approveNumber(r, picked);
    if (number === null && !backchannel) return;
    phase = 'busy';
    clearError();
    const restore = busy(approveBtn, 'Approving…');
    update();
    try {
      await api.approve(r.id, number, sharedClaims(r.claims, selection), remember);
      restore();
      finish('approved');
    } catch (err) {
      restore();
      fail(err);
    }
  });

  async function deny(report: boolean): Promise<void> {
    phase = 'busy';
    clearError();
    const restore = busy(denyBtn, report ? 'Reporting…' : 'Denying…');
    update();
    try {
      await api.deny(r.id, report);
      restore();
      finish(report ? 'reported' : 'denied');
    } catch (err) {
      restore();
      fail(err);
    }
  }

  denyBtn.addEventListener('click', () => {
    if (canDeny(phase)) void deny(false);
  });

  reportBtn.addEventListener('click', async () => {
    if (!canDeny(phase)) return;
    const signIn = knownPurpose(r.purpose) === 'sign-in' && !backchannel;
    const ok = await confirmDialog({
      title: signIn ? 'Report this sign-in?' : 'Report this request?',
      icon: 'flag',
      tone: 'danger',
      confirmId: 'report-confirm',
      confirmLabel: 'Deny and report',
      body: [
        h(
          'p',
          null,
          signIn
            ? `The sign-in to ${r.client_name} from ${r.ip} is denied and your Authentiq server is told it wasn’t you.`
            : `“${requestTitle(r.purpose, r, r.client_name)}” from ${r.ip} is denied and your Authentiq server is told it wasn’t you.`,
        ),
        h('p', { class: 'muted' }, 'If you keep getting requests you didn’t start, someone may know which account is yours. Nothing is shared with the website.'),
      ],
    });
    if (ok && canDeny(phase)) await deny(true);
  });

  // --- Live: countdown, request gone elsewhere --------------------------------------
  function tick(now: number): void {
    const left = updateCountdownPill(pill, r.expires_at, now);
    if (left === 0 && phase === 'pending') {
      phase = 'expired';
      setError('This sign-in request has expired. Start again on the website.', 'warn');
      update();
      close();
    }
  }

  const untick = onTick(tick);
  const unsub = store.subscribe(() => {
    if (seenInInbox()) {
      wasInInbox = true;
      return;
    }
    if (!wasInInbox || phase !== 'pending') return;
    if (secondsLeft(r.expires_at, Date.now()) <= 1) {
      tick(r.expires_at * 1000);
      return;
    }
    phase = 'failed';
    setError('This sign-in request was answered or cancelled elsewhere.', 'warn');
    update();
    close();
  });

  update();
  tick(Date.now());
  return () => {
    untick();
    unsub();
    if (resultTimer) clearTimeout(resultTimer);
  };
}

function fact(name: IconName, label: string, value: HTMLElement): HTMLElement {
  return h('div', { class: 'fact' }, h('dt', null, icon(name), h('span', { class: 'sr-only' }, label)), h('dd', null, value));
}

function claimRow(c: Claim, box: HTMLInputElement, inputId: string): HTMLElement {
  const state = claimState(c);
  const available = c.available;
  const badges: HTMLElement[] = [];
  if (c.required) badges.push(h('span', { class: 'badge badge-neutral' }, 'Required'));
  if (c.verified && available) badges.push(h('span', { class: 'badge badge-ok' }, icon('check'), 'Verified'));
  const value = available
    ? h('span', { class: 'claim-value' }, c.value ?? '')
    : h('span', { class: 'claim-value claim-missing' }, unavailableNote(c));
  return h(
    'li',
    { class: `claim-choice is-${state}`, 'data-claim': c.name },
    h(
      'label',
      { for: inputId, class: 'claim-toggle' },
      box,
      h(
        'span',
        { class: 'claim-body' },
        h('span', { class: 'claim-head' }, h('span', { class: 'claim-label' }, c.label), badges),
        value,
      ),
    ),
  );
}

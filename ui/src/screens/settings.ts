// Settings: server (read-only), signing out everywhere, notifications,
// start at login, about, and revoking the Authentiq ID with its revocation
// secret.
import { api, type AppInfo, type CommandError, type Settings } from '../api';
import { generalErrorMessage } from '../request-logic';
import { signedOutNotice, signOutFailure } from '../signout-logic';
import { store } from '../store';
import { copyText } from '../ui/clipboard';
import { confirmDialog } from '../ui/dialog';
import { busy, h, nextId, replace, spinner } from '../ui/dom';
import { icon, type IconName } from '../ui/icons';
import { toast } from '../ui/toast';
import { devicesSection } from './devices';
import type { Screen } from './types';

export interface SettingsOptions {
  onRevoked: () => void;
}

export function settingsScreen(opts: SettingsOptions): Screen {
  const title = h('h1', { class: 'screen-title', tabindex: '-1' }, 'Settings');
  const prefs = h('div', { class: 'group-body', 'aria-busy': 'true' }, h('div', { class: 'loading' }, spinner(), 'Loading…'));
  const prefsError = h('p', { class: 'form-error is-empty', role: 'alert', id: 'settings-error' });
  const about = h('span', { class: 'row-value', id: 'app-version' }, '…');
  const profile = store.status?.profile;
  let settings: Settings | null = null;
  let destroyed = false;

  // --- Account ---------------------------------------------------------------
  const server = h('span', { class: 'row-value mono wrap', id: 'settings-server' }, profile?.server ?? '');
  const pk = profile?.pk ?? '';
  const idValue = h('code', { class: 'row-value mono wrap id-full-inline', id: 'settings-id' }, pk);
  const copyBtn = h('button', { type: 'button', class: 'btn btn-ghost btn-icon', 'aria-label': 'Copy your Authentiq ID', title: 'Copy' }, icon('copy'));
  copyBtn.addEventListener('click', async () => {
    const r = await copyText(pk, idValue);
    toast(r === 'copied' ? 'Authentiq ID copied' : 'Selected — press Ctrl+C to copy', r === 'copied' ? 'ok' : 'info');
  });

  // --- Sign out everywhere ----------------------------------------------------------
  const signOutDescId = nextId('desc');
  const signOutResult = h('span', { class: 'row-desc', id: 'signout-result', hidden: true });
  const signOutBtn = h(
    'button',
    { type: 'button', class: 'btn btn-secondary btn-sm', id: 'signout-everywhere', 'aria-describedby': signOutDescId, disabled: !profile },
    'Sign out…',
  );
  signOutBtn.addEventListener('click', async () => {
    let told = 0;
    const done = await confirmDialog({
      id: 'signout-dialog',
      title: 'Sign out everywhere?',
      icon: 'logout',
      tone: 'danger',
      confirmId: 'signout-confirm',
      confirmLabel: 'Sign out everywhere',
      busyLabel: 'Signing out…',
      body: [
        h('p', null, 'Every website you signed in to with your Authentiq ID ends your session, in every browser, and its saved sign-ins stop working.'),
        h('p', { class: 'muted' }, 'Websites that support it are told at once. Your Authentiq ID stays: sign in again whenever you like.'),
      ],
      onConfirm: async () => {
        try {
          told = (await api.signOutEverywhere()).clients_told;
        } catch (err) {
          throw new Error(signOutFailure(err as CommandError));
        }
      },
    });
    if (!done || destroyed) return;
    const notice = signedOutNotice(told);
    signOutResult.textContent = notice;
    signOutResult.hidden = false;
    toast(notice, 'ok', 5000);
  });

  // --- Preferences ----------------------------------------------------------------
  const switches: HTMLInputElement[] = [];
  function switchRow(
    id: string,
    ic: IconName,
    label: string,
    description: string,
    key: 'notifications' | 'start_at_login',
  ): HTMLElement {
    const descId = nextId('desc');
    const input = h('input', { type: 'checkbox', role: 'switch', id, class: 'switch', 'aria-describedby': descId });
    switches.push(input);
    input.checked = settings?.[key] ?? false;
    input.addEventListener('change', async () => {
      if (!settings) return;
      const before = settings;
      const next = { ...settings, [key]: input.checked };
      // One save at a time: each builds on what the last one saved.
      for (const s of switches) s.disabled = true;
      prefsError.textContent = '';
      prefsError.classList.add('is-empty');
      try {
        await api.setSettings(next);
        settings = next;
        toast('Saved');
      } catch (err) {
        input.checked = before[key];
        prefsError.textContent = `Couldn’t save: ${generalErrorMessage(err as CommandError)}`;
        prefsError.classList.remove('is-empty');
      } finally {
        for (const s of switches) s.disabled = false;
      }
    });
    return h(
      'div',
      { class: 'row row-switch' },
      h('span', { class: 'row-icon' }, icon(ic)),
      h('label', { for: id, class: 'row-text' }, h('span', { class: 'row-label' }, label), h('span', { id: descId, class: 'row-desc' }, description)),
      input,
    );
  }

  async function load(): Promise<void> {
    try {
      const [s, info] = await Promise.all([api.getSettings(), api.appInfo().catch((): AppInfo | null => null)]);
      if (destroyed) return;
      settings = s;
      server.textContent = s.server || server.textContent;
      prefs.removeAttribute('aria-busy');
      switches.length = 0;
      replace(
        prefs,
        switchRow('setting-notifications', 'bell', 'Notifications', 'Show a notification for each sign-in request.', 'notifications'),
        switchRow('setting-start-at-login', 'power', 'Start at login', 'Run in the background from login, so requests reach you.', 'start_at_login'),
      );
      about.textContent = info ? `${info.name} ${info.version}` : 'Authentiq';
    } catch (err) {
      if (destroyed) return;
      prefs.removeAttribute('aria-busy');
      const retry = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', onclick: () => void load() }, 'Try again');
      replace(prefs, h('div', { class: 'row' }, h('p', { class: 'form-error', role: 'alert' }, generalErrorMessage(err as CommandError)), retry));
    }
  }

  // --- Revoke --------------------------------------------------------------------
  const secretInput = h('input', {
    id: 'revoke-secret',
    class: 'input',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    'aria-describedby': 'revoke-help revoke-error',
  });
  const revokeError = h('p', { id: 'revoke-error', class: 'form-error is-empty', role: 'alert' });
  const revokeBtn = h('button', { type: 'submit', id: 'revoke-confirm', class: 'btn btn-danger btn-block' }, 'Revoke my Authentiq ID');
  const revokeForm = h(
    'form',
    { class: 'form revoke-form', novalidate: true, 'aria-labelledby': 'revoke-title' },
    h(
      'p',
      { id: 'revoke-help', class: 'muted' },
      'Revoking permanently disables your Authentiq ID. Websites can no longer sign you in with it and this computer forgets it. It cannot be undone; you can create a new ID afterwards.',
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'revoke-secret', class: 'label' }, 'Recovery secret'),
      secretInput,
      revokeError,
    ),
    revokeBtn,
  );
  revokeForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const secret = secretInput.value.trim();
    if (!secret) {
      revokeError.textContent = 'Enter the recovery secret you saved when you created your ID (your recovery kit).';
      revokeError.classList.remove('is-empty');
      secretInput.setAttribute('aria-invalid', 'true');
      secretInput.focus();
      return;
    }
    secretInput.removeAttribute('aria-invalid');
    revokeError.textContent = '';
    revokeError.classList.add('is-empty');
    const restore = busy(revokeBtn, 'Revoking…');
    secretInput.readOnly = true;
    try {
      await api.revoke(secret);
      secretInput.value = '';
      opts.onRevoked();
    } catch (err) {
      restore();
      secretInput.readOnly = false;
      const ce = err as CommandError;
      revokeError.textContent =
        ce.kind === 'server' || ce.kind === 'invalid'
          ? `Not revoked: ${generalErrorMessage(ce)} Check the secret and try again.`
          : generalErrorMessage(ce);
      revokeError.classList.remove('is-empty');
      secretInput.focus();
      secretInput.select();
    }
  });

  const devices = devicesSection();

  const quitDescId = nextId('desc');
  const quitBtn = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', id: 'quit', 'aria-describedby': quitDescId }, 'Quit');
  quitBtn.addEventListener('click', () => {
    void api.quit().catch((err: unknown) => toast(`Couldn’t quit: ${generalErrorMessage(err as CommandError)}`, 'info'));
  });

  const el = h(
    'section',
    { id: 'settings', class: 'screen settings' },
    h('div', { class: 'screen-head screen-head-row' }, title),
    group(
      'Account',
      h(
        'div',
        { class: 'group-body' },
        h('div', { class: 'row' }, h('span', { class: 'row-icon' }, icon('server')), h('div', { class: 'row-text' }, h('span', { class: 'row-label' }, 'Server'), server)),
        h('div', { class: 'row' }, h('span', { class: 'row-icon' }, icon('key')), h('div', { class: 'row-text' }, h('span', { class: 'row-label' }, 'Authentiq ID'), idValue), copyBtn),
        h(
          'div',
          { class: 'row' },
          h('span', { class: 'row-icon' }, icon('logout')),
          h(
            'div',
            { class: 'row-text' },
            h('span', { class: 'row-label' }, 'Sign out everywhere'),
            h('span', { class: 'row-desc', id: signOutDescId }, 'End your sessions at every website you signed in to with this ID.'),
            signOutResult,
          ),
          signOutBtn,
        ),
      ),
    ),
    devices.el,
    group('Preferences', prefs, prefsError),
    group(
      'About',
      h(
        'div',
        { class: 'group-body' },
        h('div', { class: 'row' }, h('span', { class: 'row-icon' }, icon('info')), h('div', { class: 'row-text' }, h('span', { class: 'row-label' }, 'Version'), about)),
        h(
          'div',
          { class: 'row' },
          h('span', { class: 'row-icon' }, icon('power')),
          h(
            'div',
            { class: 'row-text' },
            h('span', { class: 'row-label' }, 'Running in the background'),
            h('span', { class: 'row-desc', id: quitDescId }, 'Closing the window keeps Authentiq running, so sign-in requests reach you. Quit stops it until you open it again.'),
          ),
          quitBtn,
        ),
      ),
    ),
    h(
      'section',
      { class: 'group danger-zone', 'aria-labelledby': 'revoke-title' },
      h('h2', { id: 'revoke-title', class: 'group-title group-title-danger' }, icon('alert'), 'Revoke my Authentiq ID'),
      h('div', { class: 'group-body group-pad' }, revokeForm),
    ),
  );

  void load();
  return {
    el,
    title: 'Settings',
    focusTarget: title,
    destroy: () => {
      destroyed = true;
      devices.destroy();
    },
  };
}

function group(titleText: string, ...content: HTMLElement[]): HTMLElement {
  const id = nextId('group');
  return h('section', { class: 'group', 'aria-labelledby': id }, h('h2', { id, class: 'group-title' }, titleText), ...content);
}

// The ID's devices: the banner that shows what other devices ask of this
// one (a new device asks to be linked; someone is recovering the ID), on
// every screen; and Settings → Devices (list, rename, remove, link another).
import { api, type CommandError, type DeviceInfo, type DeviceRequest } from '../api';
import { checkDeviceName, completionText, lastUsedText, newestRequest, requesterText, sortDevices } from '../device-logic';
import { fullDateTime } from '../format';
import { generalErrorMessage } from '../request-logic';
import { store } from '../store';
import { copyText } from '../ui/clipboard';
import { confirmDialog } from '../ui/dialog';
import { busy, h, keepFocus, replace, spinner } from '../ui/dom';
import { icon } from '../ui/icons';
import { onTick } from '../ui/ticker';
import { toast } from '../ui/toast';

/** Said on `window` when this app changed the ID's devices (a link approved here). */
export const DEVICES_CHANGED = 'aq-devices-changed';

interface Result {
  id: 'link-request-result' | 'recovery-cancel-result';
  text: string;
  tone: 'ok' | 'info';
}

/**
 * Shows the newest link request and the newest recovery in `container`
 * while there is an ID (`setActive(true)`); an answer's result stays until
 * dismissed.
 */
export function deviceBanner(container: HTMLElement): { setActive: (active: boolean) => void } {
  let active = false;
  /** The number picked per pairing URL. */
  const picked = new Map<string, number>();
  let linkResult: Result | null = null;
  let recoveryResult: Result | null = null;
  /** What is on screen, to re-render only when it changes. */
  let shownKey = '';
  const announcer = h('p', { class: 'sr-only', role: 'status', 'aria-live': 'polite' });
  const known = new Set<string>();
  let countdowns: { el: HTMLElement; r: DeviceRequest }[] = [];

  function resultCard(r: Result, dismiss: () => void): HTMLElement {
    const close = h('button', { type: 'button', class: 'btn btn-ghost btn-sm' }, 'Dismiss');
    close.addEventListener('click', dismiss);
    return h(
      'div',
      { class: `callout ${r.tone === 'ok' ? 'callout-info' : 'callout-warn'} device-result` },
      icon(r.tone === 'ok' ? 'check' : 'info'),
      h('p', { id: r.id, class: 'device-result-text' }, r.text),
      close,
    );
  }

  function linkCard(r: DeviceRequest): HTMLElement {
    const error = h('p', { id: 'link-request-error', class: 'form-error is-empty', role: 'alert' });
    const approve = h('button', { type: 'button', id: 'link-approve', class: 'btn btn-primary', disabled: !picked.has(r.url) }, 'Approve');
    const deny = h('button', { type: 'button', id: 'link-deny', class: 'btn btn-secondary' }, 'Deny');
    const buttons = (r.numbers ?? []).map((n) => {
      const b = h(
        'button',
        {
          type: 'button',
          class: `number number-sm${picked.get(r.url) === n ? ' is-picked' : ''}`,
          'data-link-number': String(n),
          'aria-pressed': String(picked.get(r.url) === n),
        },
        h('span', { class: 'number-value' }, String(n)),
        h('span', { class: 'number-check' }, icon('check')),
      );
      b.addEventListener('click', () => {
        picked.set(r.url, n);
        for (const other of buttons) {
          const on = other === b;
          other.classList.toggle('is-picked', on);
          other.setAttribute('aria-pressed', String(on));
        }
        approve.disabled = false;
      });
      return b;
    });
    const answer = async (number: number | null, button: HTMLButtonElement) => {
      error.textContent = '';
      error.classList.add('is-empty');
      const restore = busy(button, number === null ? 'Denying…' : 'Approving…');
      const others = [approve, deny, ...buttons].filter((b) => b !== button);
      for (const b of others) b.disabled = true;
      try {
        await api.answerLink(r.url, number);
        picked.delete(r.url);
        if (number !== null) window.dispatchEvent(new Event(DEVICES_CHANGED));
        linkResult =
          number === null
            ? { id: 'link-request-result', text: `Denied: “${r.name}” was not linked to your ID.`, tone: 'info' }
            : { id: 'link-request-result', text: `Approved: “${r.name}” is now a device of your ID.`, tone: 'ok' };
        store.setDeviceRequests((store.status?.device_requests ?? []).filter((x) => x.url !== r.url));
        render(true);
        container.querySelector<HTMLElement>('#link-request-result')?.focus();
      } catch (err) {
        restore();
        for (const b of others) b.disabled = false;
        approve.disabled = !picked.has(r.url);
        error.textContent = generalErrorMessage(err as CommandError);
        error.classList.remove('is-empty');
      }
    };
    approve.addEventListener('click', () => {
      const n = picked.get(r.url);
      if (n !== undefined) void answer(n, approve);
    });
    deny.addEventListener('click', () => void answer(null, deny));
    return h(
      'section',
      { id: 'link-request', class: 'device-card', 'data-pairing': r.url, 'aria-labelledby': 'link-request-title' },
      h('h2', { id: 'link-request-title', class: 'device-card-title' }, icon('monitor'), 'A new device asks to join your ID'),
      h('p', { class: 'device-card-name' }, '“', h('span', { id: 'link-request-name' }, r.name), '”'),
      h('p', { id: 'link-request-requester', class: 'muted device-card-meta' }, requesterText(r)),
      h('p', { class: 'device-card-ask', id: 'link-request-ask' }, 'Only if you are linking it yourself: pick the number it shows.'),
      h('div', { class: 'numbers', role: 'group', 'aria-labelledby': 'link-request-ask' }, buttons),
      error,
      h('div', { class: 'actions-row' }, deny, approve),
    );
  }

  function recoveryCard(r: DeviceRequest): HTMLElement {
    const error = h('p', { id: 'recovery-cancel-error', class: 'form-error is-empty', role: 'alert' });
    const when = h('span', { class: 'recovery-when' });
    const cancel = h('button', { type: 'button', id: 'recovery-cancel', class: 'btn btn-danger' }, 'Cancel the recovery');
    cancel.addEventListener('click', async () => {
      error.textContent = '';
      error.classList.add('is-empty');
      const restore = busy(cancel, 'Cancelling…');
      try {
        await api.cancelRecovery(r.url);
        recoveryResult = {
          id: 'recovery-cancel-result',
          text: `Recovery cancelled: “${r.name}” did not get your ID. If that wasn’t you, someone may know your recovery secret and email.`,
          tone: 'ok',
        };
        store.setDeviceRequests((store.status?.device_requests ?? []).filter((x) => x.url !== r.url));
        render(true);
        container.querySelector<HTMLElement>('#recovery-cancel-result')?.focus();
      } catch (err) {
        restore();
        error.textContent = generalErrorMessage(err as CommandError);
        error.classList.remove('is-empty');
      }
    });
    if (r.completes_at !== null) countdowns.push({ el: when, r });
    updateWhen(when, r, Date.now());
    return h(
      'section',
      { id: 'recovery-alert', class: 'device-card device-card-warn', 'data-recovery': r.url, 'aria-labelledby': 'recovery-alert-title' },
      h('h2', { id: 'recovery-alert-title', class: 'device-card-title' }, icon('alert'), 'Recovery of your ID under way'),
      h('p', null, 'Someone is recovering this Authentiq ID on “', h('span', { id: 'recovery-alert-name' }, r.name), '”, from ', requesterText(r), '. ', when),
      h('p', { class: 'muted' }, 'When it completes, that device gets your ID and this one stops working. If it isn’t you, cancel it.'),
      error,
      h('div', { class: 'actions-row' }, cancel),
    );
  }

  function updateWhen(el: HTMLElement, r: DeviceRequest, now: number): void {
    if (r.completes_at === null) {
      el.textContent = '';
      return;
    }
    el.textContent = `${completionText(r.completes_at, now)}.`;
    el.title = fullDateTime(r.completes_at);
  }

  function render(force = false): void {
    const list = active ? store.deviceRequests() : [];
    const link = newestRequest(list, 'link');
    const recovery = newestRequest(list, 'recovery');
    const key = [link?.url, recovery?.url, linkResult?.text, recoveryResult?.text, active].join('\n');
    // New ones are announced (the cards are not live regions themselves).
    for (const r of list) {
      if (known.has(r.url)) continue;
      known.add(r.url);
      announcer.textContent =
        r.kind === 'link' ? `A new device, ${r.name}, asks to join your ID.` : `Someone is recovering your ID on ${r.name}.`;
    }
    if (!force && key === shownKey) return;
    shownKey = key;
    countdowns = [];
    keepFocus(container, () =>
      replace(
        container,
        announcer,
        recoveryResult ? resultCard(recoveryResult, () => ((recoveryResult = null), render(true))) : null,
        recovery ? recoveryCard(recovery) : null,
        linkResult ? resultCard(linkResult, () => ((linkResult = null), render(true))) : null,
        link ? linkCard(link) : null,
      ),
    );
    container.hidden = !active || (!link && !recovery && !linkResult && !recoveryResult);
  }

  store.subscribe(() => render());
  onTick((now) => {
    for (const { el, r } of countdowns) updateWhen(el, r, now);
  });
  return {
    setActive: (a: boolean) => {
      if (a === active) return;
      active = a;
      if (!a) {
        linkResult = null;
        recoveryResult = null;
      }
      render(true);
    },
  };
}

/** Settings → Devices: the ID's devices, and how to link another. */
export function devicesSection(): { el: HTMLElement; destroy: () => void } {
  const pk = store.status?.profile?.pk ?? '';
  const list = h('ul', { id: 'devices', class: 'group-body list device-list', 'aria-busy': 'true', 'aria-labelledby': 'devices-title' });
  const error = h('p', { id: 'devices-error', class: 'form-error is-empty', role: 'alert' });
  let destroyed = false;
  let devices: DeviceInfo[] = [];
  let thisDevice = '';
  let editing: string | null = null;

  function setError(message: string): void {
    error.textContent = message;
    error.classList.toggle('is-empty', message === '');
  }

  function item(d: DeviceInfo, now: number): HTMLElement {
    const self = d.device === thisDevice;
    const li = h('li', {
      class: 'row device-row',
      'data-device': d.device,
      'data-this-device': self ? 'true' : null,
    });
    if (editing === d.device) {
      const input = h('input', {
        id: 'device-name-input',
        class: 'input',
        type: 'text',
        maxlength: '64',
        autocomplete: 'off',
        'aria-describedby': 'device-name-error',
      });
      input.value = d.name;
      const rowError = h('p', { id: 'device-name-error', class: 'form-error is-empty', role: 'alert' });
      const save = h('button', { type: 'submit', id: 'device-name-save', class: 'btn btn-primary btn-sm' }, 'Save');
      const cancel = h('button', { type: 'button', class: 'btn btn-ghost btn-sm' }, 'Cancel');
      cancel.addEventListener('click', () => {
        editing = null;
        render();
        list.querySelector<HTMLElement>(`[data-device="${CSS.escape(d.device)}"] .device-rename`)?.focus();
      });
      const form = h(
        'form',
        { class: 'device-rename-form', novalidate: true },
        h('label', { for: 'device-name-input', class: 'label' }, `New name for “${d.name}”`),
        h('div', { class: 'input-row' }, input, save, cancel),
        rowError,
      );
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        const checked = checkDeviceName(input.value);
        if (checked.error) {
          rowError.textContent = checked.error;
          rowError.classList.remove('is-empty');
          input.focus();
          return;
        }
        const restore = busy(save, 'Saving…');
        try {
          await api.renameDevice(d.device, checked.name);
          editing = null;
          toast('Device renamed');
          await load();
          list.querySelector<HTMLElement>(`[data-device="${CSS.escape(d.device)}"] .device-rename`)?.focus();
        } catch (err) {
          restore();
          rowError.textContent = generalErrorMessage(err as CommandError);
          rowError.classList.remove('is-empty');
          input.focus();
        }
      });
      li.append(h('span', { class: 'row-icon' }, icon('monitor')), h('div', { class: 'row-text' }, form));
      queueMicrotask(() => {
        input.focus();
        input.select();
      });
      return li;
    }
    const rename = h('button', { type: 'button', class: 'btn btn-ghost btn-sm device-rename', 'aria-label': `Rename ${d.name}` }, 'Rename');
    rename.addEventListener('click', () => {
      editing = d.device;
      render();
    });
    const remove = self
      ? null
      : h('button', { type: 'button', class: 'btn btn-ghost btn-sm btn-link-danger device-remove', 'aria-label': `Remove ${d.name}` }, 'Remove');
    remove?.addEventListener('click', async () => {
      const done = await confirmDialog({
        id: 'device-remove-dialog',
        title: `Remove “${d.name}”?`,
        icon: 'alert',
        tone: 'danger',
        confirmId: 'device-remove-confirm',
        confirmLabel: 'Remove device',
        busyLabel: 'Removing…',
        body: [
          h('p', null, 'Its key stops working at once: it can no longer sign in for you. Your ID and your other devices keep working.'),
          h('p', { class: 'muted' }, 'To use it again, link it again from that device.'),
        ],
        onConfirm: async () => {
          try {
            await api.removeDevice(d.device);
          } catch (err) {
            throw new Error(generalErrorMessage(err as CommandError));
          }
        },
      });
      if (!done || destroyed) return;
      toast('Device removed');
      await load();
    });
    li.append(
      h('span', { class: 'row-icon' }, icon('monitor')),
      h(
        'div',
        { class: 'row-text' },
        h('span', { class: 'row-label', 'data-device-name': '' }, d.name),
        h(
          'span',
          { class: 'row-desc', title: `Added ${fullDateTime(d.added_at)}` },
          self ? h('strong', { class: 'this-device' }, 'This device · ') : null,
          lastUsedText(d, now),
        ),
      ),
      h('div', { class: 'device-actions' }, rename, remove),
    );
    return li;
  }

  function render(): void {
    const now = Date.now();
    keepFocus(list, () => replace(list, sortDevices(devices, thisDevice).map((d) => item(d, now))));
  }

  async function load(): Promise<void> {
    try {
      const answer = await api.devices();
      if (destroyed) return;
      devices = answer.devices;
      thisDevice = answer.this_device;
      setError('');
      list.removeAttribute('aria-busy');
      render();
    } catch (err) {
      if (destroyed) return;
      list.removeAttribute('aria-busy');
      if (devices.length === 0) replace(list);
      setError(`Couldn’t load your devices: ${generalErrorMessage(err as CommandError)}`);
    }
  }

  replace(list, h('li', { class: 'loading' }, spinner(), 'Loading…'));
  const reload = () => void load();
  window.addEventListener(DEVICES_CHANGED, reload);

  const idValue = h('code', { id: 'link-another-id', class: 'mono wrap id-full-inline' }, pk);
  const copy = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', id: 'link-another-copy' }, icon('copy'), 'Copy ID');
  copy.addEventListener('click', async () => {
    const r = await copyText(pk, idValue);
    toast(r === 'copied' ? 'Authentiq ID copied' : 'Selected — press Ctrl+C to copy', r === 'copied' ? 'ok' : 'info');
  });
  const linkAnother = h(
    'div',
    { id: 'link-another', class: 'group-body group-pad link-another', 'aria-labelledby': 'link-another-title' },
    h('h3', { id: 'link-another-title', class: 'link-another-title' }, icon('link'), 'Link another device'),
    h(
      'ol',
      { class: 'steps-list' },
      h('li', null, 'On the new computer, install Authentiq and choose “Link to an existing ID” (or run aq link).'),
      h('li', null, 'Enter this Authentiq ID there:', h('span', { class: 'link-another-id-row' }, idValue, copy)),
      h('li', null, 'Approve the request that appears here, picking the number the new computer shows.'),
    ),
  );

  const el = h(
    'section',
    { class: 'group', 'aria-labelledby': 'devices-title' },
    h('h2', { id: 'devices-title', class: 'group-title' }, 'Devices'),
    list,
    error,
    linkAnother,
  );
  void load();
  return {
    el,
    destroy: () => {
      destroyed = true;
      window.removeEventListener(DEVICES_CHANGED, reload);
    },
  };
}

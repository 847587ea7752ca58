// Onboarding → "Link to an existing ID": this computer asks to become a
// device of an Authentiq ID the user already has; another device of that
// ID approves by picking the number shown here.
import { api, on, type CommandError, type Linking } from '../api';
import { checkDeviceName, linkErrorMessage, looksLikeAuthentiqId } from '../device-logic';
import { hostOf, isServerUrl } from '../format';
import { busy, h, nextId, replace, spinner } from '../ui/dom';
import { icon } from '../ui/icons';

export interface LinkOptions {
  defaultServer: string | null;
  /** A link already waiting (the window was closed and opened again). */
  resume?: Linking | null;
  /** Linked: this computer is now a device of the ID. */
  onLinked: () => void;
  /** Back to the welcome. */
  onBack: () => void;
  /** Called when the view changes, so the host can move focus. */
  onStage?: (heading: HTMLElement) => void;
}

/**
 * Fills an empty device-name field with the app's suggestion (the host
 * name), unless the user got there first.
 */
export function prefillDeviceName(input: HTMLInputElement, onValue: (name: string) => void): void {
  if (input.value) return;
  let touched = false;
  // Once the user (or a test driver) is in the field, it is theirs.
  for (const ev of ['focus', 'input']) {
    input.addEventListener(ev, () => {
      touched = true;
    });
  }
  const fill = (n: string) => {
    if (touched || input.value) return;
    input.value = n;
    onValue(n);
  };
  void api
    .suggestedDeviceName()
    .then(fill)
    .catch(() => fill('This computer'));
}

/** How often the waiting view checks the app's state, in case an event was missed. */
const POLL_MS = 3000;

export function linkFlow(opts: LinkOptions): { el: HTMLElement; readonly heading: HTMLElement; destroy: () => void } {
  const el = h('div', { class: 'link-flow' });
  let heading = h('h1', { class: 'screen-title', tabindex: '-1' });
  let destroyed = false;
  let stopWaiting: (() => void) | null = null;
  const values = { server: opts.defaultServer ?? '', id: '', name: '' };

  function setError(box: HTMLElement, message: string): void {
    box.textContent = message;
    box.classList.toggle('is-empty', message === '');
  }

  function field(id: string, label: string, input: HTMLInputElement, hint?: string): HTMLElement {
    const hintId = hint ? nextId('hint') : null;
    if (hintId) input.setAttribute('aria-describedby', `${hintId} link-error`);
    else input.setAttribute('aria-describedby', 'link-error');
    return h(
      'div',
      { class: 'field' },
      h('label', { for: id, class: 'label' }, label),
      input,
      hint && hintId ? h('p', { id: hintId, class: 'hint' }, hint) : null,
    );
  }

  function formStage(message = ''): void {
    stopWaiting?.();
    heading = h('h1', { class: 'screen-title', tabindex: '-1' }, 'Link to an existing ID');
    const server = h('input', {
      id: 'link-server',
      class: 'input',
      type: 'url',
      name: 'server',
      inputmode: 'url',
      autocomplete: 'url',
      spellcheck: 'false',
      required: true,
      placeholder: 'https://id.example.com',
    });
    server.value = values.server;
    const id = h('input', {
      id: 'link-id-input',
      class: 'input mono',
      type: 'text',
      name: 'authentiq-id',
      autocomplete: 'off',
      spellcheck: 'false',
      autocapitalize: 'off',
      required: true,
      placeholder: '43 characters, e.g. kX3fQ9vB2m…',
    });
    id.value = values.id;
    const name = h('input', {
      id: 'link-device-name',
      class: 'input',
      type: 'text',
      name: 'device-name',
      autocomplete: 'off',
      maxlength: '64',
      required: true,
      placeholder: 'Work laptop',
    });
    name.value = values.name;
    prefillDeviceName(name, (n) => {
      values.name = n;
    });
    const error = h('p', { id: 'link-error', class: 'form-error is-empty', role: 'alert' });
    setError(error, message);
    const submit = h('button', { type: 'submit', id: 'link-submit', class: 'btn btn-primary btn-block btn-lg' }, 'Link this computer');
    const back = h('button', { type: 'button', class: 'btn btn-ghost btn-block', id: 'link-back' }, 'Back');
    back.addEventListener('click', () => opts.onBack());
    const form = h(
      'form',
      { class: 'form', novalidate: true },
      field('link-server', 'Authentiq server', server, 'The server your ID is on: the same as on your other device.'),
      field('link-id-input', 'Your Authentiq ID', id, 'On your other device: Settings → Devices → Link another device shows it, with a copy button.'),
      field('link-device-name', 'Name for this computer', name, 'Shown on your other devices, so you can tell them apart.'),
      error,
      submit,
    );
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      values.server = server.value.trim().replace(/\/+$/, '');
      values.id = id.value.trim();
      const checked = checkDeviceName(name.value);
      values.name = checked.name;
      for (const input of [server, id, name]) input.removeAttribute('aria-invalid');
      const invalid = (input: HTMLInputElement, text: string) => {
        setError(error, text);
        input.setAttribute('aria-invalid', 'true');
        input.focus();
      };
      if (!isServerUrl(values.server)) return invalid(server, 'Enter the server’s address, starting with https://');
      if (!looksLikeAuthentiqId(values.id)) return invalid(id, 'Enter your Authentiq ID: 43 letters, digits, - and _.');
      if (checked.error) return invalid(name, checked.error);
      setError(error, '');
      const restore = busy(submit, 'Asking your other devices…');
      for (const input of [server, id, name]) input.readOnly = true;
      try {
        const linking = await api.linkStart(values.server, values.id, values.name);
        if (!destroyed) waitingStage(linking);
      } catch (err) {
        if (destroyed) return;
        restore();
        for (const input of [server, id, name]) input.readOnly = false;
        setError(error, linkErrorMessage(err as CommandError, hostOf(values.server)));
        submit.focus();
      }
    });
    replace(
      el,
      h('div', { class: 'screen-head' }, h('span', { class: 'hero-icon' }, icon('link')), heading),
      h(
        'p',
        { class: 'lead' },
        'Use the Authentiq ID you already have on another computer. That computer approves this one, and your websites see the same ID from both.',
      ),
      form,
      back,
    );
    opts.onStage?.(heading);
  }

  function waitingStage(linking: Linking): void {
    stopWaiting?.();
    heading = h('h1', { class: 'screen-title', tabindex: '-1' }, 'Approve on your other device');
    const number = h('p', { id: 'link-number', class: 'link-number', 'aria-describedby': 'link-number-label' }, String(linking.number));
    const qr = h('img', {
      id: 'link-qr',
      class: 'qr-img link-qr',
      alt: 'QR code of this link request',
      width: '160',
      height: '160',
    });
    if (linking.qr_svg) qr.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(linking.qr_svg)}`;
    else qr.hidden = true;
    const pairing = h('code', { id: 'link-pairing', class: 'mono wrap link-pairing', 'data-pairing': linking.pairing }, linking.pairing);
    const status = h(
      'p',
      { id: 'link-status', class: 'link-status', role: 'status', 'aria-live': 'polite' },
      spinner(),
      h('span', null, 'Waiting for your other device to approve…'),
    );
    const error = h('p', { id: 'link-error', class: 'form-error is-empty', role: 'alert' });
    const cancel = h('button', { type: 'button', id: 'link-cancel', class: 'btn btn-secondary btn-block' }, 'Cancel');
    let done = false;
    const finish = (linked: boolean, message: string | null) => {
      if (done || destroyed) return;
      done = true;
      stopWaiting?.();
      if (linked) opts.onLinked();
      else formStage(message ?? 'The link ended before it was approved. Try again.');
    };
    cancel.addEventListener('click', async () => {
      done = true;
      stopWaiting?.();
      const restore = busy(cancel, 'Cancelling…');
      await api.linkCancel().catch(() => null);
      restore();
      if (!destroyed) formStage();
    });
    let unlisten: (() => void) | null = null;
    void on('link-finished', (p) => finish(p.status === 'linked', p.message))
      .then((fn) => {
        if (done || destroyed) fn();
        else unlisten = fn;
      })
      .catch(() => null);
    // An event sent while no window listened is lost: the app's state says
    // it too (a refusal only on a second look, so that the event, which
    // says why, has come by then).
    let endedOnce = false;
    const poll = setInterval(() => {
      void api
        .status()
        .then((s) => {
          if (s.linking) return;
          if (s.profile) finish(true, null);
          else if (endedOnce) finish(false, null);
          else endedOnce = true;
        })
        .catch(() => null);
    }, POLL_MS);
    stopWaiting = () => {
      clearInterval(poll);
      unlisten?.();
      unlisten = null;
      stopWaiting = null;
    };
    replace(
      el,
      h('div', { class: 'screen-head' }, h('span', { class: 'hero-icon' }, icon('shield')), heading),
      h(
        'p',
        { class: 'lead', id: 'link-number-label' },
        'On a computer that already has your Authentiq ID, open Authentiq: it asks whether to link this one. Pick this number there:',
      ),
      h('div', { class: 'link-number-box' }, number),
      status,
      error,
      h(
        'section',
        { class: 'section link-details', 'aria-labelledby': 'link-details-title' },
        h('h2', { id: 'link-details-title', class: 'section-title' }, 'Or approve with aq'),
        h('p', { class: 'hint' }, 'On your other device, run aq devices approve with this link and --number ', String(linking.number), ':'),
        pairing,
        h('div', { class: 'center' }, qr),
      ),
      cancel,
    );
    opts.onStage?.(heading);
  }

  if (opts.resume) waitingStage(opts.resume);
  else formStage();

  return {
    el,
    get heading() {
      return heading;
    },
    destroy: () => {
      destroyed = true;
      stopWaiting?.();
    },
  };
}

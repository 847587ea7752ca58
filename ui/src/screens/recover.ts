// Onboarding → "Recover my ID": every device of the ID is lost; with the
// recovery secret and codes sent to the verified email (and phone), this
// computer becomes the ID's device after a waiting period, during which
// the ID's devices are told and can cancel.
import { api, type CommandError, type Recovering } from '../api';
import { checkDeviceName, durationUntil, linkErrorMessage, looksLikeAuthentiqId, recoverCompleteError } from '../device-logic';
import { codeDigits, fullDateTime, hostOf, isoTime, isServerUrl, looksLikeEmail, looksLikePhone } from '../format';
import { generalErrorMessage } from '../request-logic';
import { confirmDialog } from '../ui/dialog';
import { busy, h, nextId, replace } from '../ui/dom';
import { icon } from '../ui/icons';
import { onTick } from '../ui/ticker';
import { prefillDeviceName } from './link';

export interface RecoverOptions {
  defaultServer: string | null;
  /** A recovery already under way on this computer (after a restart). */
  resume?: Recovering | null;
  /** Completed: the ID's new recovery secret, to show once. */
  onRecovered: (secret: string) => void;
  /** Back to the welcome (nothing started, or the recovery abandoned). */
  onBack: () => void;
  onStage?: (heading: HTMLElement) => void;
}

export function recoverFlow(opts: RecoverOptions): { el: HTMLElement; readonly heading: HTMLElement; destroy: () => void } {
  const el = h('div', { class: 'recover-flow' });
  let heading = h('h1', { class: 'screen-title', tabindex: '-1' });
  let destroyed = false;
  let untick: (() => void) | null = null;
  const values = { server: opts.defaultServer ?? '', id: '', name: '', email: '', phone: '' };

  function setError(box: HTMLElement, message: string): void {
    box.textContent = message;
    box.classList.toggle('is-empty', message === '');
  }

  function errorBox(): HTMLParagraphElement {
    return h('p', { id: 'recover-error', class: 'form-error is-empty', role: 'alert' });
  }

  function input(id: string, attrs: Record<string, string | boolean>, value = ''): HTMLInputElement {
    const el = h('input', { id, class: 'input', spellcheck: 'false', 'aria-describedby': 'recover-error', ...attrs });
    el.value = value;
    return el;
  }

  function field(id: string, label: string, control: HTMLInputElement, hint?: string): HTMLElement {
    const hintId = hint ? nextId('hint') : null;
    if (hintId) control.setAttribute('aria-describedby', `${hintId} recover-error`);
    return h(
      'div',
      { class: 'field' },
      h('label', { for: id, class: 'label' }, label),
      control,
      hint && hintId ? h('p', { id: hintId, class: 'hint' }, hint) : null,
    );
  }

  function abandonButton(): HTMLButtonElement {
    const b = h('button', { type: 'button', id: 'recover-abandon', class: 'btn btn-ghost btn-block' }, 'Abandon this recovery');
    b.addEventListener('click', async () => {
      const done = await confirmDialog({
        id: 'recover-abandon-dialog',
        title: 'Abandon the recovery?',
        icon: 'alert',
        tone: 'danger',
        confirmId: 'recover-abandon-confirm',
        confirmLabel: 'Abandon',
        busyLabel: 'Abandoning…',
        body: [h('p', null, 'This computer forgets the recovery and the key it made for it. You can start again with your recovery secret.')],
        onConfirm: async () => {
          try {
            await api.recoverAbandon();
          } catch (err) {
            throw new Error(generalErrorMessage(err as CommandError));
          }
        },
      });
      if (done && !destroyed) opts.onBack();
    });
    return b;
  }

  function formStage(): void {
    heading = h('h1', { class: 'screen-title', tabindex: '-1' }, 'Recover your ID');
    const server = input('recover-server', { type: 'url', inputmode: 'url', autocomplete: 'url', required: true, placeholder: 'https://id.example.com' }, values.server);
    const id = input('recover-id-input', { type: 'text', class: 'input mono', autocomplete: 'off', autocapitalize: 'off', required: true, placeholder: '43 characters' }, values.id);
    const name = input('recover-device-name', { type: 'text', autocomplete: 'off', maxlength: '64', required: true, placeholder: 'New laptop' }, values.name);
    prefillDeviceName(name, (n) => {
      values.name = n;
    });
    const email = input('recover-email', { type: 'email', inputmode: 'email', autocomplete: 'email', required: true, placeholder: 'you@example.com' }, values.email);
    const phone = input('recover-phone', { type: 'tel', inputmode: 'tel', autocomplete: 'tel', placeholder: '+44 7700 900123' }, values.phone);
    const secret = input('recover-secret', { type: 'password', autocomplete: 'off', required: true, class: 'input mono' });
    const error = errorBox();
    const submit = h('button', { type: 'submit', id: 'recover-submit', class: 'btn btn-primary btn-block btn-lg' }, 'Send the codes');
    const back = h('button', { type: 'button', id: 'recover-back', class: 'btn btn-ghost btn-block' }, 'Back');
    back.addEventListener('click', () => opts.onBack());
    const controls = [server, id, name, email, phone, secret];
    const form = h(
      'form',
      { class: 'form', novalidate: true },
      field('recover-server', 'Authentiq server', server),
      field('recover-id-input', 'Your Authentiq ID', id, 'It is in your recovery kit, next to the recovery secret.'),
      field('recover-device-name', 'Name for this computer', name),
      field('recover-email', 'Your verified email address', email, 'The one your ID verified: a code goes there.'),
      field('recover-phone', 'Your verified phone number (if your ID has one)', phone, 'Optional. International format, starting with +.'),
      field('recover-secret', 'Recovery secret', secret, 'Your recovery kit: shown once when you created your ID.'),
      error,
      submit,
    );
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      Object.assign(values, {
        server: server.value.trim().replace(/\/+$/, ''),
        id: id.value.trim(),
        email: email.value.trim(),
        phone: phone.value.trim().replace(/[\s().-]/g, ''),
      });
      const checked = checkDeviceName(name.value);
      values.name = checked.name;
      for (const c of controls) c.removeAttribute('aria-invalid');
      const invalid = (c: HTMLInputElement, text: string) => {
        setError(error, text);
        c.setAttribute('aria-invalid', 'true');
        c.focus();
      };
      if (!isServerUrl(values.server)) return invalid(server, 'Enter the server’s address, starting with https://');
      if (!looksLikeAuthentiqId(values.id)) return invalid(id, 'Enter your Authentiq ID: 43 letters, digits, - and _.');
      if (checked.error) return invalid(name, checked.error);
      if (!looksLikeEmail(values.email)) return invalid(email, 'Enter the email address your ID verified.');
      if (values.phone && !looksLikePhone(values.phone)) {
        return invalid(phone, 'Enter the number in international format, starting with + and the country code, or leave it empty.');
      }
      if (!secret.value.trim()) return invalid(secret, 'Enter your recovery secret.');
      setError(error, '');
      const restore = busy(submit, 'Starting the recovery…');
      for (const c of controls) c.readOnly = true;
      try {
        const started = await api.recoverStart(values.server, values.id, values.name, values.email, values.phone || null, secret.value.trim());
        secret.value = '';
        if (!destroyed) codesStage(started.phone_needed);
      } catch (err) {
        if (destroyed) return;
        restore();
        for (const c of controls) c.readOnly = false;
        setError(error, linkErrorMessage(err as CommandError, hostOf(values.server)));
        submit.focus();
      }
    });
    replace(
      el,
      h('div', { class: 'screen-head' }, h('span', { class: 'hero-icon hero-icon-warn' }, icon('key')), heading),
      h(
        'p',
        { class: 'lead' },
        'Lost every device with your Authentiq ID? Recover it here with your recovery secret and a code sent to your verified email. Your websites keep knowing you.',
      ),
      form,
      back,
    );
    opts.onStage?.(heading);
  }

  function codeInput(id: string): HTMLInputElement {
    const c = input(id, {
      type: 'text',
      class: 'input input-code',
      inputmode: 'numeric',
      autocomplete: 'one-time-code',
      pattern: '[0-9]{6}',
      maxlength: '6',
      placeholder: '000000',
      required: true,
    });
    c.addEventListener('input', () => {
      const digits = codeDigits(c.value);
      if (digits !== c.value) c.value = digits;
    });
    return c;
  }

  function codesStage(phoneNeeded: boolean): void {
    heading = h('h1', { class: 'screen-title', tabindex: '-1' }, 'Enter the codes');
    const emailCode = codeInput('recover-email-code');
    const phoneCode = phoneNeeded ? codeInput('recover-phone-code') : null;
    const error = errorBox();
    const confirm = h('button', { type: 'submit', id: 'recover-confirm', class: 'btn btn-primary btn-block' }, 'Confirm');
    const form = h(
      'form',
      { class: 'form', novalidate: true },
      field('recover-email-code', 'Code sent to your email', emailCode),
      phoneCode ? field('recover-phone-code', 'Code sent to your phone', phoneCode) : null,
      error,
      confirm,
    );
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const codes = [emailCode, phoneCode].filter((c): c is HTMLInputElement => c !== null);
      for (const c of codes) c.removeAttribute('aria-invalid');
      const short = codes.find((c) => codeDigits(c.value).length !== 6);
      if (short) {
        setError(error, 'Enter the 6 digits of each code.');
        short.setAttribute('aria-invalid', 'true');
        short.focus();
        return;
      }
      setError(error, '');
      const restore = busy(confirm, 'Confirming…');
      try {
        const { completes_at } = await api.recoverConfirm(codeDigits(emailCode.value), phoneCode ? codeDigits(phoneCode.value) : null);
        if (!destroyed) waitingStage(completes_at);
      } catch (err) {
        if (destroyed) return;
        restore();
        setError(error, generalErrorMessage(err as CommandError));
        emailCode.select();
      }
    });
    replace(
      el,
      h('div', { class: 'screen-head' }, h('span', { class: 'hero-icon' }, icon('mail')), heading),
      h(
        'p',
        { class: 'lead' },
        phoneNeeded
          ? 'We sent a 6-digit code to your verified email address and another to your phone.'
          : 'We sent a 6-digit code to your verified email address.',
      ),
      form,
      abandonButton(),
    );
    opts.onStage?.(heading);
    emailCode.focus();
  }

  function waitingStage(completesAt: number): void {
    untick?.();
    heading = h('h1', { class: 'screen-title', tabindex: '-1' }, 'Recovery under way');
    const countdown = h('strong', { class: 'recover-countdown' });
    const update = (now: number) => {
      const left = durationUntil(completesAt, now);
      countdown.textContent = left ? `Completes in ${left}` : 'Ready to complete';
    };
    update(Date.now());
    untick = onTick(update);
    const error = errorBox();
    const complete = h('button', { type: 'button', id: 'recover-complete', class: 'btn btn-primary btn-block btn-lg' }, 'Complete the recovery');
    complete.addEventListener('click', async () => {
      setError(error, '');
      const restore = busy(complete, 'Completing…');
      try {
        const { recovery_secret } = await api.recoverComplete();
        untick?.();
        if (!destroyed) opts.onRecovered(recovery_secret);
      } catch (err) {
        if (destroyed) return;
        restore();
        setError(error, recoverCompleteError(err as CommandError, completesAt, Date.now()));
        complete.focus();
      }
    });
    replace(
      el,
      h('div', { class: 'screen-head' }, h('span', { class: 'hero-icon' }, icon('clock')), heading),
      h(
        'div',
        { id: 'recover-waiting', class: 'card recover-waiting', 'data-completes-at': String(completesAt) },
        h('p', null, countdown),
        h('p', { class: 'muted' }, 'Ready at ', h('time', { datetime: isoTime(completesAt) }, fullDateTime(completesAt)), '.'),
      ),
      h(
        'p',
        { class: 'lead' },
        'Your ID’s devices have been told. If one of them cancels the recovery, it stops. Otherwise, come back when the waiting period is over and complete it: this computer becomes your ID’s device and the old ones stop working.',
      ),
      error,
      complete,
      abandonButton(),
    );
    opts.onStage?.(heading);
  }

  if (opts.resume?.completes_at) waitingStage(opts.resume.completes_at);
  else if (opts.resume) codesStage(opts.resume.phone_needed);
  else formStage();

  return {
    el,
    get heading() {
      return heading;
    },
    destroy: () => {
      destroyed = true;
      untick?.();
    },
  };
}

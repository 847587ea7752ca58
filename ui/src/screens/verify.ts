// Verifying an email address or phone number: address → code sent →
// 6-digit code. Used by onboarding and by Home's "Add …" rows.
import { api, type CommandError, type Grant, type GrantScope } from '../api';
import { codeDigits, looksLikeEmail, looksLikePhone } from '../format';
import { generalErrorMessage } from '../request-logic';
import { busy, h, nextId, replace } from '../ui/dom';
import { icon } from '../ui/icons';
import type { Screen } from './types';

export interface VerifyOptions {
  scope: GrantScope;
  onDone: (grant: Grant) => void;
  /** Shows `#verify-skip` ("Skip for now") when given. */
  onSkip?: () => void;
  skipLabel?: string;
  /** Called when the view changes, so the host can move focus. */
  onStage?: (heading: HTMLElement) => void;
}

const RESEND_AFTER = 30;

const TEXT = {
  email: {
    title: 'Verify your email address',
    lead: 'Websites can ask for a verified email address when you sign in. We’ll email you a 6-digit code.',
    label: 'Email address',
    placeholder: 'you@example.com',
    hint: '',
    sentTo: 'We sent a 6-digit code to',
    invalid: 'Enter an email address like name@example.com.',
  },
  phone: {
    title: 'Add your phone number',
    lead: 'Optional. Some websites ask for a verified phone number. We’ll text you a 6-digit code.',
    label: 'Mobile number',
    placeholder: '+44 7700 900123',
    hint: 'International format, starting with + and the country code.',
    sentTo: 'We texted a 6-digit code to',
    invalid: 'Enter the number in international format, starting with + and the country code.',
  },
} as const;

export function verifyFlow(opts: VerifyOptions): { el: HTMLElement; heading: HTMLElement; destroy: () => void } {
  const t = TEXT[opts.scope];
  const el = h('div', { class: 'verify', 'data-scope': opts.scope });
  let heading = h('h1', { class: 'screen-title', tabindex: '-1' });
  let address = '';
  let resendTimer: ReturnType<typeof setInterval> | undefined;

  function stopResendTimer(): void {
    if (resendTimer) clearInterval(resendTimer);
    resendTimer = undefined;
  }

  function skipButton(): HTMLButtonElement | null {
    if (!opts.onSkip) return null;
    return h(
      'button',
      { type: 'button', id: 'verify-skip', class: 'btn btn-ghost btn-block', onclick: () => opts.onSkip?.() },
      opts.skipLabel ?? 'Skip for now',
    );
  }

  function showError(box: HTMLElement, message: string): void {
    box.textContent = message;
    box.classList.toggle('is-empty', message === '');
  }

  let started = false;

  function addressStage(): void {
    stopResendTimer();
    heading = h('h1', { class: 'screen-title', tabindex: '-1' }, t.title);
    const inputId = opts.scope === 'email' ? 'verify-email-input' : 'verify-phone-input';
    const sendId = opts.scope === 'email' ? 'verify-email-send' : 'verify-phone-send';
    const hintId = nextId('hint');
    const errorId = nextId('error');
    const input = h('input', {
      id: inputId,
      class: 'input',
      type: opts.scope === 'email' ? 'email' : 'tel',
      name: opts.scope,
      autocomplete: opts.scope === 'email' ? 'email' : 'tel',
      inputmode: opts.scope === 'email' ? 'email' : 'tel',
      placeholder: t.placeholder,
      required: true,
      spellcheck: 'false',
      'aria-describedby': t.hint ? `${hintId} ${errorId}` : errorId,
    });
    input.value = address;
    const error = h('p', { id: errorId, class: 'form-error is-empty', role: 'alert' });
    const send = h('button', { type: 'submit', id: sendId, class: 'btn btn-primary btn-block' }, 'Send code');
    const form = h(
      'form',
      { class: 'form', novalidate: true },
      h(
        'div',
        { class: 'field' },
        h('label', { for: inputId, class: 'label' }, t.label),
        input,
        t.hint ? h('p', { id: hintId, class: 'hint' }, t.hint) : null,
        error,
      ),
      send,
    );
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const raw = input.value.trim();
      const ok = opts.scope === 'email' ? looksLikeEmail(raw) : looksLikePhone(raw);
      if (!ok) {
        showError(error, t.invalid);
        input.setAttribute('aria-invalid', 'true');
        input.focus();
        return;
      }
      input.removeAttribute('aria-invalid');
      showError(error, '');
      const value = opts.scope === 'phone' ? raw.replace(/[\s().-]/g, '') : raw;
      const restore = busy(send, 'Sending…');
      try {
        await api.verifyStart(opts.scope, value);
        address = value;
        codeStage();
      } catch (err) {
        restore();
        showError(error, generalErrorMessage(err as CommandError));
        input.focus();
      }
    });
    replace(
      el,
      h('div', { class: 'screen-head' }, h('span', { class: 'hero-icon' }, icon(opts.scope === 'email' ? 'mail' : 'phone')), heading),
      h('p', { class: 'lead' }, t.lead),
      form,
      skipButton(),
    );
    // The host focuses the first view itself, once it is in the document.
    if (started) opts.onStage?.(heading);
    started = true;
    if (started && el.isConnected) input.focus();
  }

  function codeStage(): void {
    heading = h('h1', { class: 'screen-title', tabindex: '-1' }, 'Enter the code');
    const errorId = nextId('error');
    const input = h('input', {
      id: 'verify-code-input',
      class: 'input input-code',
      type: 'text',
      name: 'code',
      inputmode: 'numeric',
      autocomplete: 'one-time-code',
      pattern: '[0-9]{6}',
      maxlength: '6',
      placeholder: '000000',
      required: true,
      spellcheck: 'false',
      'aria-describedby': errorId,
    });
    input.addEventListener('input', () => {
      const digits = codeDigits(input.value);
      if (digits !== input.value) input.value = digits;
    });
    const error = h('p', { id: errorId, class: 'form-error is-empty', role: 'alert' });
    const submit = h('button', { type: 'submit', id: 'verify-code-submit', class: 'btn btn-primary btn-block' }, 'Verify');
    const resend = h('button', { type: 'button', class: 'btn-link' }, 'Send a new code');
    const resendNote = h('span', { class: 'muted' });
    const change = h(
      'button',
      { type: 'button', class: 'btn-link', onclick: () => addressStage() },
      opts.scope === 'email' ? 'Use a different address' : 'Use a different number',
    );

    let wait = RESEND_AFTER;
    function updateResend(): void {
      resend.disabled = wait > 0;
      resendNote.textContent = wait > 0 ? ` (in ${wait} s)` : '';
    }
    updateResend();
    resendTimer = setInterval(() => {
      wait -= 1;
      updateResend();
      if (wait <= 0) stopResendTimer();
    }, 1000);

    resend.addEventListener('click', async () => {
      resend.disabled = true;
      try {
        await api.verifyStart(opts.scope, address);
        showError(error, '');
        wait = RESEND_AFTER;
        updateResend();
        stopResendTimer();
        resendTimer = setInterval(() => {
          wait -= 1;
          updateResend();
          if (wait <= 0) stopResendTimer();
        }, 1000);
        resendNote.textContent = ' — sent';
      } catch (err) {
        resend.disabled = false;
        showError(error, generalErrorMessage(err as CommandError));
      }
    });

    const form = h(
      'form',
      { class: 'form', novalidate: true },
      h(
        'div',
        { class: 'field' },
        h('label', { for: 'verify-code-input', class: 'label' }, '6-digit code'),
        input,
        error,
      ),
      submit,
    );
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const code = codeDigits(input.value);
      if (code.length !== 6) {
        showError(error, 'Enter the 6 digits of the code.');
        input.setAttribute('aria-invalid', 'true');
        input.focus();
        return;
      }
      input.removeAttribute('aria-invalid');
      showError(error, '');
      const restore = busy(submit, 'Verifying…');
      try {
        const grant = await api.verifyFinish(opts.scope, address, code);
        stopResendTimer();
        opts.onDone(grant);
      } catch (err) {
        restore();
        showError(error, generalErrorMessage(err as CommandError));
        input.select();
      }
    });

    replace(
      el,
      h('div', { class: 'screen-head' }, h('span', { class: 'hero-icon' }, icon('key')), heading),
      h('p', { class: 'lead' }, `${t.sentTo} `, h('strong', { class: 'nowrap' }, address), '.'),
      form,
      h('p', { class: 'code-help' }, resend, resendNote, h('span', { 'aria-hidden': 'true' }, ' · '), change),
      skipButton(),
    );
    opts.onStage?.(heading);
    input.focus();
  }

  addressStage();
  return {
    el,
    get heading() {
      return heading;
    },
    destroy: stopResendTimer,
  };
}

/** The standalone screen (Home → "Verify an email address" / "Add a phone number"). */
export function verifyScreen(scope: GrantScope, done: (grant: Grant) => void): Screen {
  const flow = verifyFlow({
    scope,
    onStage: (hd) => hd.focus({ preventScroll: true }),
    onDone: done,
  });
  const el = h(
    'section',
    { id: 'verify', class: 'screen verify-screen' },
    h('div', { class: 'request-top' }, h('a', { class: 'back-link', href: '#/home' }, icon('chevronLeft'), 'Home')),
    flow.el,
  );
  return {
    el,
    title: scope === 'email' ? 'Verify your email' : 'Add your phone',
    get focusTarget() {
      return flow.heading;
    },
    destroy: flow.destroy,
  };
}

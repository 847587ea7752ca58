// First run: create the Authentiq ID, save its recovery secret (the
// recovery kit: the server's revocation secret, shown once), verify an
// email address, optionally a phone number. Or link this computer to an
// ID the user has on another device, or recover an ID whose devices are
// all lost (then save its new recovery secret), and verify.
import { api, type CommandError, type Linking, type Recovering } from '../api';
import { hostOf, isServerUrl } from '../format';
import { generalErrorMessage } from '../request-logic';
import { copyText } from '../ui/clipboard';
import { busy, h, nextId, replace } from '../ui/dom';
import { icon, logo, type IconName } from '../ui/icons';
import { linkFlow } from './link';
import { recoverFlow } from './recover';
import type { Screen } from './types';
import { verifyFlow } from './verify';

export interface OnboardingOptions {
  defaultServer: string | null;
  /** Shown above the welcome text as `#onboarding-notice` (e.g. "Your Authentiq ID was revoked."). */
  notice?: string;
  /** The ID exists but its revocation secret was not confirmed saved: start there. */
  unsavedSecret?: string;
  /** Which secret `unsavedSecret` is (default: a new ID's revocation secret). */
  unsavedSecretKind?: 'revocation' | 'recovery';
  /** A link of this computer waits for approval: show its number again. */
  linking?: Linking | null;
  /** A recovery is under way on this computer: resume it. */
  recovering?: Recovering | null;
  onFinish: () => void;
}

type Path = 'create' | 'link' | 'recover';

const STEPS: Record<Path, readonly string[]> = {
  create: ['Create your ID', 'Save your recovery kit', 'Verify your email', 'Add your phone'],
  link: ['Link to your ID', 'Verify your email', 'Add your phone'],
  recover: ['Recover your ID', 'Save your new secret', 'Verify your email', 'Add your phone'],
};

export function onboardingScreen(opts: OnboardingOptions): Screen {
  const el = h('section', { id: 'onboarding', class: 'screen onboarding' });
  const progress = h('div', { class: 'steps' });
  const body = h('div', { class: 'onboarding-body' });
  el.append(progress, body);
  let cleanup: (() => void) | null = null;
  let first = true;
  let path: Path = 'create';

  function setStep(index: number): void {
    const steps = STEPS[path];
    const bar = h('ol', { class: 'steps-bar', 'aria-hidden': 'true' });
    steps.forEach((_, i) => {
      bar.append(h('li', { class: i < index ? 'done' : i === index ? 'current' : '' }));
    });
    replace(
      progress,
      bar,
      h('p', { class: 'steps-label' }, `Step ${index + 1} of ${steps.length}`, h('span', { class: 'sr-only' }, `: ${steps[index]}`)),
    );
  }

  function show(heading: HTMLElement): void {
    // The first view gets focus from the app; later ones announce themselves.
    if (first) {
      first = false;
      return;
    }
    heading.focus({ preventScroll: true });
    el.closest('main')?.scrollTo({ top: 0 });
  }

  function feature(name: IconName, title: string, text: string): HTMLElement {
    return h(
      'li',
      { class: 'feature' },
      h('span', { class: 'feature-icon' }, icon(name)),
      h('span', null, h('strong', null, title), h('span', { class: 'muted' }, text)),
    );
  }

  function welcome(): HTMLElement {
    cleanup?.();
    cleanup = null;
    path = 'create';
    setStep(0);
    const heading = h('h1', { class: 'screen-title welcome-title', tabindex: '-1' }, 'Welcome to Authentiq');
    const errorId = nextId('error');
    const hintId = nextId('hint');
    const input = h('input', {
      id: 'server-url',
      class: 'input',
      type: 'url',
      name: 'server',
      inputmode: 'url',
      autocomplete: 'url',
      spellcheck: 'false',
      required: true,
      placeholder: 'https://id.example.com',
      'aria-describedby': `${hintId} ${errorId}`,
    });
    input.value = opts.defaultServer ?? '';
    const error = h('p', { id: errorId, class: 'form-error is-empty', role: 'alert' });
    const create = h('button', { type: 'submit', id: 'create-id', class: 'btn btn-primary btn-block btn-lg' }, 'Create my Authentiq ID');
    const form = h(
      'form',
      { class: 'form', novalidate: true },
      h(
        'div',
        { class: 'field' },
        h('label', { for: 'server-url', class: 'label' }, 'Authentiq server'),
        input,
        h('p', { id: hintId, class: 'hint' }, 'Provided by your organisation. Keep it as it is if you’re not sure.'),
        error,
      ),
      create,
    );
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const server = input.value.trim().replace(/\/+$/, '');
      if (!isServerUrl(server)) {
        error.textContent = 'Enter the server’s address, starting with https://';
        error.classList.remove('is-empty');
        input.setAttribute('aria-invalid', 'true');
        input.focus();
        return;
      }
      input.removeAttribute('aria-invalid');
      error.textContent = '';
      error.classList.add('is-empty');
      const restore = busy(create, 'Creating your ID…');
      input.readOnly = true;
      try {
        const created = await api.createIdentity(server);
        void secret(created.revocation_secret, 'revocation');
      } catch (err) {
        restore();
        input.readOnly = false;
        const ce = err as CommandError;
        error.textContent =
          ce.kind === 'network'
            ? `Can’t reach ${hostOf(server)}. Check the address and your internet connection.`
            : generalErrorMessage(ce);
        error.classList.remove('is-empty');
        create.focus();
      }
    });
    const view = h(
      'div',
      { class: 'welcome' },
      opts.notice ? h('p', { id: 'onboarding-notice', class: 'callout callout-info', role: 'status' }, icon('info'), h('span', null, opts.notice)) : null,
      h('div', { class: 'welcome-hero' }, logo('logo-xl'), heading),
      h('p', { class: 'lead center' }, 'Sign in to websites without passwords. You approve every sign-in here, on this computer.'),
      h(
        'ul',
        { class: 'features' },
        feature('key', 'Your key stays here', 'Kept in your system’s keyring, never on a server.'),
        feature('shield', 'Match the number', 'Approve only when it matches the sign-in page.'),
        feature('lock', 'Share only what you choose', 'You decide what each website gets.'),
      ),
      form,
      h(
        'div',
        { class: 'welcome-alt' },
        h('p', { class: 'muted center' }, 'Already have an Authentiq ID?'),
        h('button', { type: 'button', id: 'link-existing', class: 'btn btn-secondary btn-block', onclick: () => link() }, icon('link'), 'Link to an existing ID'),
        h('button', { type: 'button', id: 'recover-id', class: 'btn btn-ghost btn-block', onclick: () => recover() }, icon('key'), 'Recover my ID'),
      ),
    );
    replace(body, view);
    show(heading);
    return heading;
  }

  function link(resume: Linking | null = null): HTMLElement {
    cleanup?.();
    path = 'link';
    setStep(0);
    const flow = linkFlow({
      defaultServer: opts.defaultServer,
      resume,
      onStage: (hd) => show(hd),
      onLinked: () => email(),
      onBack: () => void welcome(),
    });
    cleanup = flow.destroy;
    replace(body, flow.el);
    show(flow.heading);
    return flow.heading;
  }

  function recover(resume: Recovering | null = null): HTMLElement {
    cleanup?.();
    path = 'recover';
    setStep(0);
    const flow = recoverFlow({
      defaultServer: opts.defaultServer,
      resume,
      onStage: (hd) => show(hd),
      onRecovered: (value) => void secret(value, 'recovery'),
      onBack: () => void welcome(),
    });
    cleanup = flow.destroy;
    replace(body, flow.el);
    show(flow.heading);
    return flow.heading;
  }

  function secret(value: string, kind: 'revocation' | 'recovery'): HTMLElement {
    cleanup?.();
    cleanup = null;
    if (kind === 'recovery') path = 'recover';
    setStep(1);
    const recovered = kind === 'recovery';
    const heading = h('h1', { class: 'screen-title', tabindex: '-1' }, recovered ? 'Save your new recovery secret' : 'Save your recovery kit');
    // Groups of four are easier to copy by hand; the text itself stays exact
    // (the gaps are margins, not characters), so selecting and copying works.
    const chunks = value.match(/.{1,4}/g) ?? [value];
    const code = h(
      'code',
      { id: recovered ? 'recovery-secret-new' : 'revocation-secret', class: 'secret' },
      chunks.map((c) => h('span', { class: 'secret-chunk' }, c)),
    );
    const copyLabel = h('span', null, 'Copy');
    const copyBtn = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', id: 'copy-secret' }, icon('copy'), copyLabel);
    const copyNote = h('p', { class: 'hint copy-note', role: 'status', 'aria-live': 'polite' });
    copyBtn.addEventListener('click', async () => {
      const result = await copyText(value, code);
      if (result === 'copied') {
        copyLabel.textContent = 'Copied';
        copyNote.textContent = 'Copied. Paste it into your password manager now.';
      } else {
        copyNote.textContent = 'The secret is selected: press Ctrl+C (⌘C on a Mac) to copy it.';
      }
    });
    const check = h('input', { type: 'checkbox', id: 'secret-saved', class: 'checkbox', required: true });
    const cont = h('button', { type: 'button', id: 'continue', class: 'btn btn-primary btn-block btn-lg', disabled: true }, 'Continue');
    check.addEventListener('change', () => {
      cont.disabled = !check.checked;
    });
    cont.addEventListener('click', () => {
      if (!check.checked) return;
      // The app may forget it now.
      void api.secretSaved().catch(() => null);
      email();
    });
    replace(
      body,
      h('div', { class: 'screen-head' }, h('span', { class: 'hero-icon hero-icon-warn' }, icon('key')), heading),
      h(
        'div',
        { class: 'callout callout-warn', role: 'note' },
        icon('alert'),
        h(
          'div',
          null,
          h('strong', null, 'This is the only time it’s shown. '),
          recovered
            ? 'Your old recovery secret no longer works. You need this one to recover your ID again, or to revoke it. Keep it in a password manager or on paper — not only on this computer.'
            : 'This recovery secret is your recovery kit, with your Authentiq ID (on the home screen). If you lose every device, it and a code sent to your verified email recover your ID on a new computer; if this computer is stolen, it revokes the ID. Keep it in a password manager or on paper — not only on this computer.',
        ),
      ),
      h('div', { class: 'secret-box' }, code, copyBtn),
      copyNote,
      h('label', { class: 'check-row', for: 'secret-saved' }, check, h('span', null, recovered ? 'I have saved my new recovery secret somewhere safe' : 'I have saved my recovery secret somewhere safe')),
      cont,
    );
    show(heading);
    return heading;
  }

  function email(): void {
    setStep(path === 'link' ? 1 : 2);
    cleanup?.();
    const flow = verifyFlow({
      scope: 'email',
      onStage: (hd) => show(hd),
      onDone: () => phone(),
    });
    cleanup = flow.destroy;
    replace(body, flow.el);
    show(flow.heading);
  }

  function phone(): void {
    setStep(path === 'link' ? 2 : 3);
    cleanup?.();
    const flow = verifyFlow({
      scope: 'phone',
      onStage: (hd) => show(hd),
      onDone: () => finish(),
      onSkip: () => finish(),
    });
    cleanup = flow.destroy;
    replace(body, flow.el);
    show(flow.heading);
  }

  function finish(): void {
    cleanup?.();
    cleanup = null;
    opts.onFinish();
  }

  const heading = opts.unsavedSecret
    ? secret(opts.unsavedSecret, opts.unsavedSecretKind ?? 'revocation')
    : opts.linking
      ? link(opts.linking)
      : opts.recovering
        ? recover(opts.recovering)
        : welcome();
  return {
    el,
    title: opts.unsavedSecret
      ? opts.unsavedSecretKind === 'recovery'
        ? 'Save your new recovery secret'
        : 'Save your recovery kit'
      : opts.linking ? 'Link to an existing ID' : opts.recovering ? 'Recover your ID' : 'Welcome',
    focusTarget: heading,
    destroy: () => cleanup?.(),
  };
}

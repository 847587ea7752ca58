// Modal dialogs on the native <dialog> element: focus is trapped, Esc
// closes, focus returns to what opened it.
import { busy, h, nextId } from './dom';
import { icon, type IconName } from './icons';

interface BaseOptions {
  title: string;
  body: (Node | string)[];
  id?: string;
  icon?: IconName;
  tone?: 'danger' | 'neutral';
  className?: string;
}

function build(opts: BaseOptions, footer: HTMLElement): HTMLDialogElement {
  const titleId = nextId('dialog-title');
  const bodyId = nextId('dialog-body');
  const dialog = h(
    'dialog',
    {
      class: `dialog ${opts.tone === 'danger' ? 'dialog-danger' : ''} ${opts.className ?? ''}`.trim(),
      id: opts.id,
      'aria-labelledby': titleId,
      'aria-describedby': bodyId,
    },
    h(
      'div',
      { class: 'dialog-head' },
      opts.icon ? h('span', { class: 'dialog-icon' }, icon(opts.icon)) : null,
      h('h2', { id: titleId, class: 'dialog-title' }, opts.title),
    ),
    h('div', { id: bodyId, class: 'dialog-body' }, ...opts.body),
    footer,
  );
  return dialog;
}

function open(dialog: HTMLDialogElement, onClose: () => void): void {
  const opener = document.activeElement as HTMLElement | null;
  document.body.appendChild(dialog);
  dialog.addEventListener('close', () => {
    dialog.remove();
    onClose();
    if (opener && document.contains(opener)) opener.focus();
  });
  // A click on the backdrop (outside the box) closes, like Esc.
  dialog.addEventListener('click', (e) => {
    if (e.target === dialog) dialog.close('cancel');
  });
  dialog.showModal();
}

export interface ConfirmOptions extends BaseOptions {
  confirmLabel: string;
  confirmId?: string;
  busyLabel?: string;
  cancelLabel?: string;
  /**
   * Runs on confirm with the dialog still open; a thrown message is shown
   * in the dialog and it stays open.
   */
  onConfirm?: () => Promise<void>;
}

/** Asks a question; resolves `true` when confirmed (and `onConfirm` succeeded). */
export function confirmDialog(opts: ConfirmOptions): Promise<boolean> {
  return new Promise((resolve) => {
    let confirmed = false;
    const error = h('p', { class: 'dialog-error', role: 'alert' });
    const cancel = h(
      'button',
      { type: 'button', class: 'btn btn-secondary', autofocus: true },
      opts.cancelLabel ?? 'Cancel',
    );
    const confirm = h(
      'button',
      {
        type: 'button',
        id: opts.confirmId,
        class: `btn ${opts.tone === 'danger' ? 'btn-danger' : 'btn-primary'}`,
      },
      opts.confirmLabel,
    );
    const footer = h('div', { class: 'dialog-actions' }, cancel, confirm);
    const dialog = build({ ...opts, body: [...opts.body, error] }, footer);
    cancel.addEventListener('click', () => dialog.close('cancel'));
    confirm.addEventListener('click', async () => {
      if (!opts.onConfirm) {
        confirmed = true;
        dialog.close('confirm');
        return;
      }
      const restore = busy(confirm, opts.busyLabel ?? opts.confirmLabel);
      cancel.disabled = true;
      error.textContent = '';
      try {
        await opts.onConfirm();
        confirmed = true;
        dialog.close('confirm');
      } catch (e) {
        restore();
        cancel.disabled = false;
        error.textContent = e instanceof Error ? e.message : String(e);
        confirm.focus();
      }
    });
    // While the action runs, Esc must not close the box behind its back.
    dialog.addEventListener('cancel', (e) => {
      if (cancel.disabled) e.preventDefault();
    });
    open(dialog, () => resolve(confirmed));
  });
}

/** An informational dialog with one Close button. */
export function infoDialog(opts: BaseOptions & { closeLabel?: string }): Promise<void> {
  return new Promise((resolve) => {
    const close = h(
      'button',
      { type: 'button', class: 'btn btn-secondary', autofocus: true },
      opts.closeLabel ?? 'Close',
    );
    const dialog = build(opts, h('div', { class: 'dialog-actions dialog-actions-single' }, close));
    close.addEventListener('click', () => dialog.close());
    open(dialog, () => resolve());
  });
}

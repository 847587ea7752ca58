// A short, polite message at the bottom of the window ("Copied").
import { h } from './dom';
import { icon, type IconName } from './icons';

let region: HTMLElement | null = null;
let hideTimer: ReturnType<typeof setTimeout> | undefined;

function ensureRegion(): HTMLElement {
  if (!region) {
    region = h('div', { id: 'toast', class: 'toast', role: 'status', 'aria-live': 'polite' });
    document.body.appendChild(region);
  }
  return region;
}

export function toast(message: string, kind: 'ok' | 'info' = 'ok', ms = 2600): void {
  const el = ensureRegion();
  const name: IconName = kind === 'ok' ? 'check' : 'info';
  el.replaceChildren(h('span', { class: 'toast-body' }, icon(name), message));
  el.classList.add('toast-shown');
  if (hideTimer) clearTimeout(hideTimer);
  hideTimer = setTimeout(() => {
    el.classList.remove('toast-shown');
  }, ms);
}

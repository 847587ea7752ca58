// Copying text: the Clipboard API when the web view allows it, otherwise the
// text is selected so the user can press Ctrl+C.

/** Selects the whole text of an element (or an input's value). */
export function selectText(el: HTMLElement): void {
  if (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement) {
    el.focus();
    el.select();
    return;
  }
  const sel = window.getSelection();
  if (!sel) return;
  const range = document.createRange();
  range.selectNodeContents(el);
  sel.removeAllRanges();
  sel.addRange(range);
}

/**
 * Copies `text`. Resolves to `'copied'`, or to `'selected'` when only the
 * fallback worked: `fallback` is then selected for a manual copy.
 */
export async function copyText(text: string, fallback?: HTMLElement): Promise<'copied' | 'selected'> {
  try {
    if (navigator.clipboard && typeof navigator.clipboard.writeText === 'function') {
      await navigator.clipboard.writeText(text);
      return 'copied';
    }
  } catch {
    // Not allowed here: fall through.
  }
  if (fallback) {
    selectText(fallback);
    try {
      // Deprecated but still the only way in some web views.
      if (document.execCommand('copy')) return 'copied';
    } catch {
      // Ignore: the text stays selected.
    }
  }
  return 'selected';
}

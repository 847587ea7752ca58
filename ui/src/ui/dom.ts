// A tiny hyperscript helper: builds elements with text nodes only (never
// HTML from data), classes instead of inline styles (the CSP forbids them).

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener> & {
  class?: string;
};

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attrs | null,
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith('on') && typeof value === 'function') {
        el.addEventListener(key.slice(2).toLowerCase(), value as EventListener);
      } else if (key === 'class') {
        el.className = String(value);
      } else if (value === true) {
        el.setAttribute(key, '');
      } else {
        el.setAttribute(key, String(value));
      }
    }
  }
  append(el, children);
  return el;
}

export function append(el: Node, children: (Child | Child[])[]): void {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

/** Replaces all children. */
export function replace(el: Element, ...children: (Child | Child[])[]): void {
  el.replaceChildren();
  append(el, children);
}

/** A visually hidden span (read by screen readers). */
export function srOnly(text: string): HTMLSpanElement {
  return h('span', { class: 'sr-only' }, text);
}

/** A loading spinner (decorative). */
export function spinner(): HTMLSpanElement {
  return h('span', { class: 'spinner', 'aria-hidden': 'true' });
}

/**
 * Puts a button into a busy state (spinner, label, disabled) and returns a
 * function that restores it.
 */
export function busy(button: HTMLButtonElement, label: string): () => void {
  const saved = [...button.childNodes];
  const wasDisabled = button.disabled;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  button.replaceChildren(spinner(), document.createTextNode(label));
  return () => {
    button.replaceChildren(...saved);
    button.disabled = wasDisabled;
    button.removeAttribute('aria-busy');
  };
}

let uid = 0;
/** A unique id for label/aria wiring. */
export function nextId(prefix: string): string {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** "a · b · c", each part kept on one line so wrapping happens between parts. */
export function metaLine(parts: (string | null | undefined)[]): Node[] {
  const out: Node[] = [];
  for (const p of parts.filter((x): x is string => Boolean(x))) {
    if (out.length > 0) out.push(document.createTextNode(' · '));
    out.push(h('span', { class: 'nowrap' }, p));
  }
  return out;
}

/**
 * Re-renders part of the page without losing keyboard focus: when focus was
 * on an element inside `container` with an id or a data-request-id, the new
 * element with the same key gets it back.
 */
export function keepFocus(container: HTMLElement, render: () => void): void {
  const active = document.activeElement as HTMLElement | null;
  const inside = active && container.contains(active);
  const rid = inside ? active.dataset.requestId : undefined;
  const id = inside ? active.id : '';
  render();
  if (!inside) return;
  const next =
    (rid && container.querySelector<HTMLElement>(`[data-request-id="${CSS.escape(rid)}"]`)) ||
    (id && container.querySelector<HTMLElement>(`#${CSS.escape(id)}`)) ||
    null;
  next?.focus({ preventScroll: true });
}

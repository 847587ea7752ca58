// Pure formatting helpers shared by the screens. Tested in format.test.ts.

/** "k3Fq9X…Qz0A8c": enough of an Authentiq ID to recognise it. */
export function shortId(pk: string, head = 6, tail = 6): string {
  if (pk.length <= head + tail + 1) return pk;
  return `${pk.slice(0, head)}…${pk.slice(-tail)}`;
}

/** The host of a URL ("https://shop.example/x" → "shop.example"), or the input. */
export function hostOf(uri: string): string {
  try {
    const u = new URL(uri);
    return u.host || uri;
  } catch {
    return uri;
  }
}

/** "Firefox on Linux" from a User-Agent header; `null` when nothing is recognised. */
export function describeUserAgent(ua: string | null | undefined): string | null {
  if (!ua) return null;
  const browser =
    match(ua, /Edg(?:e|A|iOS)?\//, 'Edge') ??
    match(ua, /OPR\/|Opera/, 'Opera') ??
    match(ua, /Vivaldi\//, 'Vivaldi') ??
    match(ua, /Brave\//, 'Brave') ??
    match(ua, /Firefox\/|FxiOS\//, 'Firefox') ??
    match(ua, /Chrom(?:e|ium)\/|CriOS\//, 'Chrome') ??
    match(ua, /Version\/[\d.]+.*Safari\//, 'Safari') ??
    match(ua, /^curl\//, 'curl');
  const os =
    match(ua, /iPhone|iPad|iPod/, 'iOS') ??
    match(ua, /Android/, 'Android') ??
    match(ua, /CrOS/, 'ChromeOS') ??
    match(ua, /Windows/, 'Windows') ??
    match(ua, /Mac OS X|Macintosh/, 'macOS') ??
    match(ua, /Linux|X11/, 'Linux');
  if (browser && os) return `${browser} on ${os}`;
  return browser ?? os ?? null;
}

function match(ua: string, re: RegExp, name: string): string | null {
  return re.test(ua) ? name : null;
}

/** A stable colour slot (0–5) for a name's avatar. */
export function avatarSlot(name: string): number {
  // FNV-1a: neighbouring names spread over the slots.
  let h = 0x811c9dc5;
  for (const ch of name) {
    h ^= ch.codePointAt(0) ?? 0;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d) >>> 0;
  h ^= h >>> 12;
  return (h >>> 0) % 6;
}

/** One or two letters for an avatar: "My Shop" → "MS", "shop" → "S". */
export function initials(name: string): string {
  const words = name
    .trim()
    .split(/\s+/)
    .filter((w) => /[\p{L}\p{N}]/u.test(w));
  if (words.length === 0) return '?';
  const first = (w: string) => [...w.replace(/^[^\p{L}\p{N}]+/u, '')][0]?.toUpperCase() ?? '';
  return words.length === 1 ? first(words[0]) : first(words[0]) + first(words[1]);
}

const DAY = 86400;

function startOfDay(ms: number): number {
  const d = new Date(ms);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

/** "Today", "Yesterday", or a date ("Mon 3 March", with the year when it is not this year). */
export function dayLabel(ts: number, nowMs: number, locale?: string): string {
  const day = startOfDay(ts * 1000);
  const today = startOfDay(nowMs);
  const diff = Math.round((today - day) / (DAY * 1000));
  if (diff === 0) return 'Today';
  if (diff === 1) return 'Yesterday';
  const sameYear = new Date(day).getFullYear() === new Date(today).getFullYear();
  return new Intl.DateTimeFormat(locale, {
    weekday: 'short',
    day: 'numeric',
    month: 'long',
    ...(sameYear ? {} : { year: 'numeric' }),
  }).format(new Date(day));
}

/** Local clock time, "14:03" or "2:03 PM" as the locale has it. */
export function clockTime(ts: number, locale?: string): string {
  return new Intl.DateTimeFormat(locale, { hour: 'numeric', minute: '2-digit' }).format(
    new Date(ts * 1000),
  );
}

/** Full local date and time, for tooltips and `datetime` labels. */
export function fullDateTime(ts: number, locale?: string): string {
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' }).format(
    new Date(ts * 1000),
  );
}

/** "just now", "5 min ago", "2 h ago", or the day. */
export function relativeTime(ts: number, nowMs: number, locale?: string): string {
  const s = Math.floor(nowMs / 1000 - ts);
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.max(1, Math.round(s / 60))} min ago`;
  if (s < 6 * 3600) return `${Math.round(s / 3600)} h ago`;
  return `${dayLabel(ts, nowMs, locale)}, ${clockTime(ts, locale)}`;
}

/** An ISO string for `<time datetime>`. */
export function isoTime(ts: number): string {
  return new Date(ts * 1000).toISOString();
}

/** Splits history items into day groups, newest first (input order does not matter). */
export function groupByDay<T extends { decided_at: number }>(
  items: readonly T[],
  nowMs: number,
  locale?: string,
): { label: string; items: T[] }[] {
  const sorted = [...items].sort((a, b) => b.decided_at - a.decided_at);
  const groups: { label: string; items: T[] }[] = [];
  for (const item of sorted) {
    const label = dayLabel(item.decided_at, nowMs, locale);
    const last = groups[groups.length - 1];
    if (last && last.label === label) last.items.push(item);
    else groups.push({ label, items: [item] });
  }
  return groups;
}

/** Whether a string looks like an email address (the server checks for real). */
export function looksLikeEmail(s: string): boolean {
  return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(s.trim());
}

/** Whether a string looks like an international phone number (+ and 7–15 digits). */
export function looksLikePhone(s: string): boolean {
  const digits = s.replace(/[\s().-]/g, '');
  return /^\+[1-9]\d{6,14}$/.test(digits);
}

/** Keeps the digits of a typed code, at most `n`. */
export function codeDigits(s: string, n = 6): string {
  return s.replace(/\D/g, '').slice(0, n);
}

/** Whether a server URL is usable: http(s) with a host. */
export function isServerUrl(s: string): boolean {
  try {
    const u = new URL(s.trim());
    if (u.host.length === 0) return false;
    if (u.protocol === 'https:') return true;
    // Plain http only to this computer (a local or test server), as the app allows.
    const host = u.hostname.toLowerCase();
    return u.protocol === 'http:' && (host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host));
  } catch {
    return false;
  }
}

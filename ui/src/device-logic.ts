// What the device screens compute: countdowns to a recovery's end, how a
// device was last used, where a request comes from, checks of what the
// user typed. Pure functions, tested in device-logic.test.ts.
import type { CommandError, DeviceInfo, DeviceRequest, DeviceRequestKind, RevokedReason } from './api';
import { describeUserAgent, fullDateTime, relativeTime } from './format';
import { generalErrorMessage } from './request-logic';

/** An Authentiq ID: 43 characters of unpadded base64url. */
export function looksLikeAuthentiqId(s: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(s.trim());
}

/** "23 h 59 min", "4 min 10 s", "12 s": how long until `at` (Unix seconds); "" once past. */
export function durationUntil(at: number, nowMs: number): string {
  const s = Math.ceil(at - nowMs / 1000);
  if (s <= 0) return '';
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (d > 0) return h > 0 ? `${d} d ${h} h` : `${d} d`;
  if (h > 0) return m > 0 ? `${h} h ${m} min` : `${h} h`;
  if (m > 0) return r > 0 && m < 10 ? `${m} min ${r} s` : `${m} min`;
  return `${r} s`;
}

/** "Completes in 23 h 59 min (Dec 2, 2026, 8:10 PM)" or "Can complete now". */
export function completionText(completesAt: number, nowMs: number, locale?: string): string {
  const left = durationUntil(completesAt, nowMs);
  return left ? `Completes in ${left} (${fullDateTime(completesAt, locale)})` : 'Can complete now';
}

/** "Last used 5 min ago", "Not used yet". */
export function lastUsedText(d: Pick<DeviceInfo, 'last_used_at' | 'added_at'>, nowMs: number, locale?: string): string {
  if (d.last_used_at === null || d.last_used_at === undefined) return 'Not used yet';
  return `Last used ${relativeTime(d.last_used_at, nowMs, locale)}`;
}

/** "203.0.113.24 · Firefox on Linux" — where a device request comes from. */
export function requesterText(r: Pick<DeviceRequest, 'ip' | 'user_agent'>): string {
  const ua = describeUserAgent(r.user_agent) ?? (r.user_agent?.trim() || null);
  return ua ? `${r.ip} · ${ua}` : r.ip;
}

/** The newest open request of a kind. */
export function newestRequest(list: readonly DeviceRequest[], kind: DeviceRequestKind): DeviceRequest | null {
  return (
    list
      .filter((r) => r.kind === kind)
      .reduce<DeviceRequest | null>((best, r) => (best === null || r.received_at > best.received_at ? r : best), null)
  );
}

/** This device first, then the others by when they were last used (newest first). */
export function sortDevices(list: readonly DeviceInfo[], thisDevice: string): DeviceInfo[] {
  const used = (d: DeviceInfo) => d.last_used_at ?? d.added_at;
  return [...list].sort((a, b) => {
    if (a.device === thisDevice) return -1;
    if (b.device === thisDevice) return 1;
    return used(b) - used(a);
  });
}

/** A device name as typed: trimmed; an error message when it is not usable. */
export function checkDeviceName(raw: string): { name: string; error: string | null } {
  const name = raw.trim().replace(/\s+/g, ' ');
  if (!name) return { name, error: 'Enter a name, such as “Work laptop”.' };
  if ([...name].length > 64) return { name, error: 'Keep the name to 64 characters or fewer.' };
  return { name, error: null };
}

/** Why linking failed, in the user's words. */
export function linkErrorMessage(err: CommandError, serverHost: string): string {
  if (err.kind === 'network') return `Can’t reach ${serverHost}. Check the address and your internet connection.`;
  return generalErrorMessage(err);
}

/**
 * Why "Complete the recovery" was refused, in words: the server says "the
 * recovery completes at <Unix seconds>; …" before the waiting period is
 * over, and "this recovery is cancelled" after a device cancelled it.
 */
export function recoverCompleteError(err: CommandError, completesAt: number, nowMs: number, locale?: string): string {
  if (err.kind === 'server') {
    const early = /completes at (\d+)/.exec(err.message);
    if (early) {
      const at = Number(early[1]) || completesAt;
      const left = durationUntil(at, nowMs);
      const when = fullDateTime(at, locale);
      return left
        ? `Not yet: the recovery can complete in ${left} (${when}). Until then, any of your ID’s devices can cancel it.`
        : `Not yet: the server says the waiting period ends at ${when}; its clock may differ from this computer’s. Try again in a moment.`;
    }
    if (/\bcancell?ed\b/.test(err.message)) {
      return 'This recovery was cancelled on one of your ID’s devices: it cannot complete. Abandon it here; you can start again with your recovery secret.';
    }
  }
  return generalErrorMessage(err);
}

/** What the onboarding says after the ID was revoked by the user here, in Settings. */
export const REVOKED_HERE = 'Your Authentiq ID was revoked. You can create a new one.';

/**
 * What the onboarding says once this computer's key stopped working
 * elsewhere (the `revoked` event's reason): a removed device still has an
 * ID, which it can link to again or recover.
 */
export function revokedNotice(reason: RevokedReason | null | undefined): string {
  switch (reason) {
    case 'key-revoked':
      return REVOKED_HERE;
    case 'device-removed':
      return 'This computer was removed from your Authentiq ID (on another device, or by a recovery). Link it again or recover your ID.';
    default:
      return 'This computer’s key no longer works: your Authentiq ID was revoked, or this computer was removed from it. Link it again, recover your ID, or create a new one.';
  }
}

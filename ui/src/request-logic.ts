// The sign-in request screen's decisions, as pure functions (no DOM, no IPC):
// what is shared, when Approve is allowed, the countdown, and what to tell
// the user when something fails. Tested in request-logic.test.ts.
import type { Claim, CommandError, Purpose } from './api';

/** A purpose this version knows; anything else (a newer app's) reads as a sign-in. */
export function knownPurpose(p: string | null | undefined): Purpose {
  return p === 'verification' || p === 'reauthentication' ? p : 'sign-in';
}

/** The request's heading (screen and window title, Home's list): "Sign in to X", … */
export function purposeTitle(purpose: Purpose | undefined, clientName: string): string {
  switch (knownPurpose(purpose)) {
    case 'verification':
      return `Verify your details for ${clientName}`;
    case 'reauthentication':
      return `Confirm it's you for ${clientName}`;
    default:
      return `Sign in to ${clientName}`;
  }
}

/** What the client asks, under its name on the request screen. */
export function purposeAsk(purpose: Purpose | undefined): string {
  switch (knownPurpose(purpose)) {
    case 'verification':
      return 'asks you to verify your details';
    case 'reauthentication':
      return "asks you to confirm it's you";
    default:
      return 'wants you to sign in';
  }
}

/** A short name of the kind of request, for History (`null` for a plain sign-in). */
export function purposeKind(purpose: Purpose | undefined): string | null {
  switch (knownPurpose(purpose)) {
    case 'verification':
      return 'Verification';
    case 'reauthentication':
      return 'Identity confirmation';
    default:
      return null;
  }
}

/**
 * Backchannel requests (OpenID Connect CIBA): the client's backend started
 * the sign-in for a user it knows, with no sign-in page, so there is no
 * number to match. The user checks the client's binding message instead —
 * untrusted text, always shown as text (the DOM helper makes text nodes
 * only).
 */
export interface Backchannel {
  backchannel?: boolean | null;
  binding_message?: string | null;
}

/** Whether the request has no number to match (a missing flag reads as `false`: an older app side). */
export function isBackchannel(r: Backchannel): boolean {
  return r.backchannel === true;
}

/** The binding message to show, if any: only a backchannel request has one, and blank is none. */
export function bindingMessage(r: Backchannel): string | null {
  if (!isBackchannel(r)) return null;
  const m = r.binding_message?.trim();
  return m ? m : null;
}

/**
 * The request's heading, as `purposeTitle`, except that a backchannel
 * sign-in reads "Sign-in requested by X": X started it, not the user on a page.
 */
export function requestTitle(purpose: Purpose | undefined, r: Backchannel, clientName: string): string {
  if (isBackchannel(r) && knownPurpose(purpose) === 'sign-in') return `Sign-in requested by ${clientName}`;
  return purposeTitle(purpose, clientName);
}

/** What the client asks, under its name on the request screen. */
export function requestAsk(purpose: Purpose | undefined, r: Backchannel): string {
  if (isBackchannel(r) && knownPurpose(purpose) === 'sign-in') return 'started a sign-in and asks you to approve it';
  return purposeAsk(purpose);
}

/**
 * What a backchannel request's screen asks the user to check in place of a
 * number: a heading, and the line that goes with Approve.
 */
export function bindingCheck(r: Backchannel, clientName: string): { title: string; approveOnly: string } | null {
  if (!isBackchannel(r)) return null;
  if (bindingMessage(r) !== null) {
    return {
      title: `Check that ${clientName} shows this message`,
      approveOnly: `Only approve if ${clientName} shows this message.`,
    };
  }
  return {
    title: 'No message to check',
    approveOnly: `${clientName} sent no message with this request. Only approve if you just asked ${clientName} to sign you in.`,
  };
}

/** The `number` argument of `approve`: the one picked, or `null` for a backchannel request (it has none). */
export function approveNumber(r: Backchannel, picked: number | null): number | null {
  return isBackchannel(r) ? null : picked;
}

/** History's kind of a backchannel decision (`null` for the others: see `purposeKind`). */
export function requestKind(purpose: Purpose | undefined, r: Backchannel, clientName: string): string | null {
  if (isBackchannel(r) && knownPurpose(purpose) === 'sign-in') return `Requested by ${clientName}`;
  return purposeKind(purpose);
}

/** Where the number to pick is shown. */
export function numbersQuestion(purpose: Purpose | undefined, clientName: string): string {
  return knownPurpose(purpose) === 'sign-in' ? 'Which number is on the sign-in page?' : `Which number does ${clientName} show?`;
}

/** The result once answered: its title and the line under it. */
export function resultText(
  kind: 'approved' | 'denied' | 'reported',
  purpose: Purpose | undefined,
  clientName: string,
  r: Backchannel = {},
): [string, string] {
  const p = knownPurpose(purpose);
  // No browser waits on a backchannel sign-in: the client carries on.
  if (kind === 'approved' && p === 'sign-in' && isBackchannel(r)) {
    return [`You’re signed in to ${clientName}`, `${clientName} continues by itself.`];
  }
  if (kind === 'reported') {
    const what = p === 'sign-in' ? 'this sign-in' : 'it';
    return ['Denied and reported', `Nothing was shared. Your Authentiq server was told ${what} wasn’t you.`];
  }
  if (kind === 'denied') {
    const what = p === 'verification' ? 'Verification' : p === 'reauthentication' ? 'Confirmation' : 'Sign-in';
    return [`${what} denied`, `Nothing was shared with ${clientName}.`];
  }
  switch (p) {
    case 'verification':
      return [`Your details were shared with ${clientName}`, `Go back to ${clientName} — it continues by itself.`];
    case 'reauthentication':
      return [`You confirmed it's you to ${clientName}`, `Go back to ${clientName} — it continues by itself.`];
    default:
      return [`You’re signed in to ${clientName}`, 'Go back to your browser — it continues by itself.'];
  }
}

/**
 * Scopes that are not claims the user shares: `openid` is implied, and
 * `aq:push` ("remember this browser") is its own checkbox (`wants_push`).
 */
export const HIDDEN_CLAIMS: ReadonlySet<string> = new Set(['openid', 'aq:push']);

/**
 * Optional claims that start switched on. Everything that identifies or
 * reaches the user (email, phone, name, username, address, location) is
 * opt-in; only the language and time-zone preferences — which tailor the
 * site and say little about who the user is — start on.
 */
export const DEFAULT_SHARED: ReadonlySet<string> = new Set(['aq:locale', 'aq:zoneinfo']);

/** How long before expiry the countdown turns urgent. */
export const URGENT_SECONDS = 30;

/** The claims to show, in the order the relying party asked for them. */
export function displayedClaims(claims: readonly Claim[]): Claim[] {
  return claims.filter((c) => !HIDDEN_CLAIMS.has(c.name));
}

export type ClaimState = 'required' | 'optional' | 'unavailable' | 'required-unavailable';

export function claimState(c: Claim): ClaimState {
  if (!c.available) return c.required ? 'required-unavailable' : 'unavailable';
  return c.required ? 'required' : 'optional';
}

/** Whether the user may switch the claim on or off. */
export function isToggleable(c: Claim): boolean {
  return c.available && !c.required;
}

/** Whether the claim's checkbox shows as checked, given the user's selection. */
export function isChecked(c: Claim, selection: ReadonlySet<string>): boolean {
  if (!c.available) return false;
  return c.required || selection.has(c.name);
}

/** The optional claims switched on when the screen opens. */
export function initialSelection(claims: readonly Claim[]): Set<string> {
  return new Set(
    displayedClaims(claims)
      .filter((c) => isToggleable(c) && DEFAULT_SHARED.has(c.name))
      .map((c) => c.name),
  );
}

/** Returns a new selection with `name` switched on or off (only if it may be toggled). */
export function toggleClaim(
  claims: readonly Claim[],
  selection: ReadonlySet<string>,
  name: string,
  on: boolean,
): Set<string> {
  const next = new Set(selection);
  const claim = claims.find((c) => c.name === name);
  if (!claim || !isToggleable(claim)) return next;
  if (on) next.add(name);
  else next.delete(name);
  return next;
}

/**
 * The `share` argument of `approve`: the optional, available claims the user
 * switched on, in request order. Required claims are always shared by the
 * Rust side and are not listed.
 */
export function sharedClaims(claims: readonly Claim[], selection: ReadonlySet<string>): string[] {
  return displayedClaims(claims)
    .filter((c) => isToggleable(c) && selection.has(c.name))
    .map((c) => c.name);
}

/** Everything the relying party receives on approval (required and chosen). */
export function disclosedClaims(claims: readonly Claim[], selection: ReadonlySet<string>): Claim[] {
  return displayedClaims(claims).filter((c) => isChecked(c, selection));
}

/**
 * What the request screen says in place of a claim the app cannot share:
 * an email address or phone number can still be verified; anything else
 * (a name, an address) the app does not hold at all.
 */
export function unavailableNote(c: Pick<Claim, 'name'>): string {
  return canBeVerified(c) ? 'Not verified yet' : 'Not held by this app';
}

/** An email address or phone number: what the app can verify (on Home). */
function canBeVerified(c: Pick<Claim, 'name'>): boolean {
  return c.name === 'email' || c.name === 'phone';
}

/** Required claims the app cannot share (not verified yet): approval would fail. */
export function missingRequired(claims: readonly Claim[]): Claim[] {
  return displayedClaims(claims).filter((c) => c.required && !c.available);
}

/** Where the request screen is: waiting for the user, talking to the server, or finished. */
export type Phase = 'pending' | 'busy' | 'done' | 'expired' | 'failed';

export interface ApproveInput {
  phase: Phase;
  picked: number | null;
  numbers: readonly number[];
  claims: readonly Claim[];
  /** A backchannel request: there is no number to pick. */
  backchannel?: boolean;
}

export type ApproveBlocker = 'closed' | 'busy' | 'missing-required' | 'pick-number';

/** Why Approve is disabled, or `null` when it is enabled. */
export function approveBlocker(input: ApproveInput): ApproveBlocker | null {
  if (input.phase === 'busy') return 'busy';
  if (input.phase !== 'pending') return 'closed';
  if (missingRequired(input.claims).length > 0) return 'missing-required';
  if (input.backchannel === true) return null;
  if (input.picked === null || !input.numbers.includes(input.picked)) return 'pick-number';
  return null;
}

export function canApprove(input: ApproveInput): boolean {
  return approveBlocker(input) === null;
}

/** Deny and "This wasn't me" work whenever the request is still open. */
export function canDeny(phase: Phase): boolean {
  return phase === 'pending';
}

/** The hint under Approve while it is disabled ('' when there is nothing to say). */
export function approveHint(
  blocker: ApproveBlocker | null,
  clientName: string,
  claims: readonly Claim[],
  purpose: Purpose = 'sign-in',
): string {
  switch (blocker) {
    case 'pick-number':
      return knownPurpose(purpose) === 'sign-in'
        ? 'Pick the number shown on the sign-in page to approve.'
        : `Pick the number ${clientName} shows to approve.`;
    case 'missing-required': {
      const missing = missingRequired(claims);
      const verifiable = missing.filter(canBeVerified).map((c) => lowerFirst(c.label));
      const unheld = missing.filter((c) => !canBeVerified(c)).map((c) => lowerFirst(c.label));
      const parts: string[] = [];
      if (verifiable.length > 0) {
        const it = verifiable.length > 1 ? 'them' : 'it';
        parts.push(
          `${clientName} requires your ${joinList(verifiable)}, which you haven't verified yet. Verify ${it} on Home, then start the sign-in again.`,
        );
      }
      if (unheld.length > 0) {
        parts.push(`${clientName} requires your ${joinList(unheld)}, which this app doesn't hold, so it can't sign you in there.`);
      }
      return parts.join(' ');
    }
    default:
      return '';
  }
}

/** Whole seconds left until `expiresAt` (Unix seconds), never negative. */
export function secondsLeft(expiresAt: number, nowMs: number): number {
  return Math.max(0, Math.ceil(expiresAt - nowMs / 1000));
}

/** `m:ss` (or `h:mm:ss` from an hour on); 0 and below read `0:00`. */
export function formatCountdown(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** A spoken form of the countdown for screen readers: "4 minutes 5 seconds". */
export function countdownLabel(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s === 0) return 'expired';
  const m = Math.floor(s / 60);
  const r = s % 60;
  const parts: string[] = [];
  if (m > 0) parts.push(`${m} minute${m === 1 ? '' : 's'}`);
  if (r > 0) parts.push(`${r} second${r === 1 ? '' : 's'}`);
  return parts.join(' ');
}

export type Urgency = 'normal' | 'soon' | 'expired';

export function countdownUrgency(seconds: number): Urgency {
  if (seconds <= 0) return 'expired';
  return seconds <= URGENT_SECONDS ? 'soon' : 'normal';
}

/** What to tell the user about a failed command, and whether the request is over. */
export interface UserMessage {
  message: string;
  /** The sign-in cannot continue: disable the actions. */
  terminal: boolean;
}

export const WRONG_NUMBER_MESSAGE =
  "That number didn't match the one on the sign-in page. The sign-in was denied — start again on the website.";

/**
 * The server refused a wrong number. The Rust side forwards the server's
 * detail ("the number does not match the one on the sign-in page; …") as a
 * `server` error; a dedicated kind is accepted too.
 */
export function isWrongNumber(err: CommandError): boolean {
  if (err.kind === 'wrong_number' || err.kind === 'wrong-number') return true;
  return (
    err.kind === 'server' &&
    /wrong.number|number does not match|number doesn't match|does not match the one/i.test(
      err.message,
    )
  );
}

/** Maps a failed approve/deny to what the request screen says. */
export function requestErrorMessage(err: CommandError, clientName: string): UserMessage {
  if (isWrongNumber(err)) return { message: WRONG_NUMBER_MESSAGE, terminal: true };
  switch (err.kind) {
    case 'expired':
      return {
        message: 'This sign-in request has expired. Start again on the website.',
        terminal: true,
      };
    case 'not_found':
      return {
        message:
          'This sign-in request is no longer available — it was answered or cancelled. Start again on the website if you still want to sign in.',
        terminal: true,
      };
    case 'network':
      return {
        message: "Can't reach your Authentiq server. Check your internet connection and try again.",
        terminal: false,
      };
    case 'keyring':
      return { message: withPeriod(capitalize(err.message)), terminal: false };
    case 'no_identity':
      return {
        message: 'This device has no Authentiq ID any more. Set it up again to sign in.',
        terminal: true,
      };
    case 'server':
      return {
        message: `${clientName}'s sign-in was refused by your Authentiq server: ${withPeriod(err.message)}`,
        terminal: true,
      };
    case 'invalid':
      return { message: withPeriod(capitalize(err.message)), terminal: false };
    default:
      return {
        message: `Something went wrong: ${withPeriod(err.message)} Please try again.`,
        terminal: false,
      };
  }
}

/** A refused decision's detail (the server's words) as a sentence for History. */
export function decisionDetail(detail: string): string {
  if (isWrongNumber({ kind: 'server', message: detail })) {
    return 'The wrong number was picked, so the sign-in was denied.';
  }
  return withPeriod(capitalize(detail));
}

/** Maps a failed command outside the request screen (verify, revoke, settings…). */
export function generalErrorMessage(err: CommandError): string {
  switch (err.kind) {
    case 'network':
      return "Can't reach the Authentiq server. Check your internet connection and try again.";
    case 'ipc':
      return `The app's core did not answer (${err.message}). Restart Authentiq and try again.`;
    case 'internal':
      return `Something went wrong: ${withPeriod(err.message)} Please try again.`;
    default:
      return withPeriod(capitalize(err.message));
  }
}

function capitalize(s: string): string {
  return s.length === 0 ? s : s[0].toUpperCase() + s.slice(1);
}

function lowerFirst(s: string): string {
  // Keep acronyms ("URL") as they are.
  if (s.length > 1 && s[1] === s[1].toUpperCase() && /[A-Z]/.test(s[1])) return s;
  return s.length === 0 ? s : s[0].toLowerCase() + s.slice(1);
}

function withPeriod(s: string): string {
  const t = s.trim();
  return /[.!?]$/.test(t) ? t : `${t}.`;
}

/** "a", "a and b", "a, b and c". */
export function joinList(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

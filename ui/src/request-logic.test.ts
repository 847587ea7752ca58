import { describe, expect, it } from 'vitest';
import type { Claim } from './api';
import {
  approveBlocker,
  approveHint,
  approveNumber,
  bindingCheck,
  bindingMessage,
  canApprove,
  canDeny,
  claimState,
  countdownLabel,
  countdownUrgency,
  decisionDetail,
  disclosedClaims,
  displayedClaims,
  formatCountdown,
  generalErrorMessage,
  initialSelection,
  isBackchannel,
  isChecked,
  isToggleable,
  isWrongNumber,
  joinList,
  knownPurpose,
  missingRequired,
  numbersQuestion,
  purposeAsk,
  purposeKind,
  purposeTitle,
  requestAsk,
  requestErrorMessage,
  requestKind,
  requestTitle,
  resultText,
  unavailableNote,
  secondsLeft,
  sharedClaims,
  toggleClaim,
  WRONG_NUMBER_MESSAGE,
  type ApproveInput,
} from './request-logic';

function claim(name: string, over: Partial<Claim> = {}): Claim {
  return {
    name,
    label: name,
    required: false,
    verified: false,
    available: true,
    value: `${name}-value`,
    ...over,
  };
}

// A request like the demo's: email required and verified, phone optional
// but not verified yet, name optional, locale optional, plus the scopes that
// are not claims.
const CLAIMS: Claim[] = [
  claim('openid'),
  claim('email', { label: 'Email address', required: true, verified: true }),
  claim('phone', { label: 'Phone number', verified: true, available: false, value: null }),
  claim('aq:name', { label: 'Name' }),
  claim('aq:locale', { label: 'Language' }),
  claim('aq:push'),
];

describe('which claims are shown and how', () => {
  it('hides openid and aq:push and keeps the request order', () => {
    expect(displayedClaims(CLAIMS).map((c) => c.name)).toEqual(['email', 'phone', 'aq:name', 'aq:locale']);
  });

  it('classifies required, optional and unavailable claims', () => {
    expect(claimState(claim('a', { required: true }))).toBe('required');
    expect(claimState(claim('a'))).toBe('optional');
    expect(claimState(claim('a', { available: false }))).toBe('unavailable');
    expect(claimState(claim('a', { required: true, available: false }))).toBe('required-unavailable');
  });

  it('lets the user toggle only optional claims the app can share', () => {
    expect(isToggleable(claim('a'))).toBe(true);
    expect(isToggleable(claim('a', { required: true }))).toBe(false);
    expect(isToggleable(claim('a', { available: false }))).toBe(false);
  });

  it('shows required claims checked, unavailable ones unchecked whatever the selection', () => {
    const sel = new Set(['phone']);
    expect(isChecked(claim('email', { required: true }), new Set())).toBe(true);
    expect(isChecked(claim('phone', { available: false }), sel)).toBe(false);
    expect(isChecked(claim('aq:name'), new Set())).toBe(false);
    expect(isChecked(claim('aq:name'), new Set(['aq:name']))).toBe(true);
  });

  it('says an email or phone can still be verified, and that other data is not held', () => {
    expect(unavailableNote(claim('email', { available: false }))).toBe('Not verified yet');
    expect(unavailableNote(claim('phone', { available: false }))).toBe('Not verified yet');
    expect(unavailableNote(claim('aq:name', { available: false }))).toBe('Not held by this app');
    expect(unavailableNote(claim('address', { available: false }))).toBe('Not held by this app');
  });
});

describe('initialSelection', () => {
  it('starts with personal optional claims off and preferences on', () => {
    expect([...initialSelection(CLAIMS)]).toEqual(['aq:locale']);
  });

  it('never pre-selects a preference the app cannot share, or a required claim', () => {
    const claims = [
      claim('aq:locale', { available: false, value: null }),
      claim('aq:zoneinfo', { required: true }),
      claim('email'),
    ];
    expect(initialSelection(claims).size).toBe(0);
  });
});

describe('toggleClaim', () => {
  it('switches an optional claim on and off without touching the old selection', () => {
    const before = new Set<string>();
    const on = toggleClaim(CLAIMS, before, 'aq:name', true);
    expect([...on]).toEqual(['aq:name']);
    expect(before.size).toBe(0);
    expect([...toggleClaim(CLAIMS, on, 'aq:name', false)]).toEqual([]);
  });

  it('ignores required, unavailable and unknown claims', () => {
    const sel = new Set<string>();
    expect(toggleClaim(CLAIMS, sel, 'email', false).size).toBe(0);
    expect(toggleClaim(CLAIMS, sel, 'phone', true).has('phone')).toBe(false);
    expect(toggleClaim(CLAIMS, sel, 'nope', true).size).toBe(0);
  });
});

describe('sharedClaims (the share argument of approve)', () => {
  it('lists only the optional claims switched on, in request order', () => {
    const sel = new Set(['aq:locale', 'aq:name']);
    expect(sharedClaims(CLAIMS, sel)).toEqual(['aq:name', 'aq:locale']);
  });

  it('leaves out required claims (always shared) and claims the app cannot share', () => {
    const sel = new Set(['email', 'phone', 'openid', 'aq:push']);
    expect(sharedClaims(CLAIMS, sel)).toEqual([]);
  });

  it('is empty with the default selection minus the preferences', () => {
    expect(sharedClaims(CLAIMS, new Set())).toEqual([]);
  });

  it('disclosedClaims adds the required ones: everything the site receives', () => {
    expect(disclosedClaims(CLAIMS, new Set(['aq:name'])).map((c) => c.name)).toEqual(['email', 'aq:name']);
  });
});

describe('Approve', () => {
  const base: ApproveInput = { phase: 'pending', picked: null, numbers: [27, 64, 81], claims: CLAIMS };

  it('is disabled until a number is picked', () => {
    expect(approveBlocker(base)).toBe('pick-number');
    expect(canApprove(base)).toBe(false);
    expect(canApprove({ ...base, picked: 64 })).toBe(true);
  });

  it('is enabled for any of the three numbers — the server checks which is right', () => {
    for (const n of [27, 64, 81]) expect(canApprove({ ...base, picked: n })).toBe(true);
  });

  it('refuses a number that is not one of the three', () => {
    expect(approveBlocker({ ...base, picked: 99 })).toBe('pick-number');
  });

  it('is disabled while busy and once the request is over', () => {
    expect(approveBlocker({ ...base, picked: 64, phase: 'busy' })).toBe('busy');
    for (const phase of ['done', 'expired', 'failed'] as const) {
      expect(approveBlocker({ ...base, picked: 64, phase })).toBe('closed');
    }
  });

  it('is disabled when a required claim is not verified yet', () => {
    const claims = [claim('phone', { required: true, available: false, value: null, label: 'Phone number' })];
    expect(approveBlocker({ ...base, picked: 64, claims })).toBe('missing-required');
    expect(missingRequired(claims).map((c) => c.name)).toEqual(['phone']);
  });

  it('explains why it is disabled', () => {
    expect(approveHint('pick-number', 'Acme', CLAIMS)).toMatch(/number shown on the sign-in page/);
    const claims = [
      claim('phone', { required: true, available: false, label: 'Phone number' }),
      claim('email', { required: true, available: false, label: 'Email address' }),
    ];
    expect(approveHint('missing-required', 'Acme', claims)).toBe(
      "Acme requires your phone number and email address, which you haven't verified yet. Verify them on Home, then start the sign-in again.",
    );
    expect(approveHint('missing-required', 'Acme', [claim('aq:name', { required: true, available: false, label: 'Name' })])).toBe(
      "Acme requires your name, which this app doesn't hold, so it can't sign you in there.",
    );
    expect(
      approveHint('missing-required', 'Acme', [
        claim('email', { required: true, available: false, label: 'Email address' }),
        claim('aq:name', { required: true, available: false, label: 'Name' }),
      ]),
    ).toBe(
      "Acme requires your email address, which you haven't verified yet. Verify it on Home, then start the sign-in again. Acme requires your name, which this app doesn't hold, so it can't sign you in there.",
    );
    expect(approveHint(null, 'Acme', CLAIMS)).toBe('');
  });

  it('Deny and report are possible only while the request is open', () => {
    expect(canDeny('pending')).toBe(true);
    for (const phase of ['busy', 'done', 'expired', 'failed'] as const) expect(canDeny(phase)).toBe(false);
  });
});

describe('countdown', () => {
  it('counts whole seconds up, never below zero', () => {
    expect(secondsLeft(1000, 999_000)).toBe(1);
    expect(secondsLeft(1000, 999_001)).toBe(1);
    expect(secondsLeft(1000, 940_500)).toBe(60);
    expect(secondsLeft(1000, 1_000_000)).toBe(0);
    expect(secondsLeft(1000, 2_000_000)).toBe(0);
  });

  it('formats m:ss, and h:mm:ss from an hour on', () => {
    expect(formatCountdown(0)).toBe('0:00');
    expect(formatCountdown(5)).toBe('0:05');
    expect(formatCountdown(59.9)).toBe('0:59');
    expect(formatCountdown(65)).toBe('1:05');
    expect(formatCountdown(600)).toBe('10:00');
    expect(formatCountdown(3599)).toBe('59:59');
    expect(formatCountdown(3600)).toBe('1:00:00');
    expect(formatCountdown(3725)).toBe('1:02:05');
    expect(formatCountdown(-3)).toBe('0:00');
  });

  it('has a spoken form', () => {
    expect(countdownLabel(245)).toBe('4 minutes 5 seconds');
    expect(countdownLabel(60)).toBe('1 minute');
    expect(countdownLabel(1)).toBe('1 second');
    expect(countdownLabel(0)).toBe('expired');
  });

  it('turns urgent in the last 30 seconds', () => {
    expect(countdownUrgency(31)).toBe('normal');
    expect(countdownUrgency(30)).toBe('soon');
    expect(countdownUrgency(1)).toBe('soon');
    expect(countdownUrgency(0)).toBe('expired');
  });
});

describe('error messages', () => {
  // What the server says for a wrong number (server/src/oidc/signin.rs).
  const wrong = {
    kind: 'server',
    message: 'the number does not match the one on the sign-in page; the sign-in is denied',
  };

  it('recognises the server refusing a wrong number', () => {
    expect(isWrongNumber(wrong)).toBe(true);
    expect(isWrongNumber({ kind: 'wrong_number', message: 'x' })).toBe(true);
    expect(isWrongNumber({ kind: 'server', message: 'Wrong number' })).toBe(true);
    expect(isWrongNumber({ kind: 'server', message: 'the scope phone must be verified' })).toBe(false);
    expect(isWrongNumber({ kind: 'network', message: 'wrong number of bytes' })).toBe(false);
  });

  it('tells the user a wrong number denied the sign-in, and ends the request', () => {
    expect(requestErrorMessage(wrong, 'Acme')).toEqual({ message: WRONG_NUMBER_MESSAGE, terminal: true });
    expect(WRONG_NUMBER_MESSAGE).toBe(
      "That number didn't match the one on the sign-in page. The sign-in was denied — start again on the website.",
    );
  });

  it('lets the user retry after a network error', () => {
    const m = requestErrorMessage({ kind: 'network', message: 'connection refused' }, 'Acme');
    expect(m.terminal).toBe(false);
    expect(m.message).toMatch(/Can't reach your Authentiq server/);
  });

  it('ends the request when it expired or is gone', () => {
    expect(requestErrorMessage({ kind: 'expired', message: 'x' }, 'Acme')).toMatchObject({ terminal: true });
    expect(requestErrorMessage({ kind: 'expired', message: 'x' }, 'Acme').message).toMatch(/expired/);
    expect(requestErrorMessage({ kind: 'not_found', message: 'x' }, 'Acme')).toMatchObject({ terminal: true });
  });

  it("passes the keyring's instructions through, and lets the user retry", () => {
    const m = requestErrorMessage(
      { kind: 'keyring', message: 'the keyring is locked: unlock it and try again' },
      'Acme',
    );
    expect(m).toEqual({ message: 'The keyring is locked: unlock it and try again.', terminal: false });
  });

  it("names the site and quotes the server's reason for other refusals", () => {
    const m = requestErrorMessage({ kind: 'server', message: 'the scope phone is required' }, 'Acme');
    expect(m).toEqual({
      message: "Acme's sign-in was refused by your Authentiq server: the scope phone is required.",
      terminal: true,
    });
  });

  it('falls back to a generic, retryable message', () => {
    const m = requestErrorMessage({ kind: 'ipc', message: 'no bridge' }, 'Acme');
    expect(m).toEqual({ message: 'Something went wrong: no bridge. Please try again.', terminal: false });
  });

  it('maps errors outside the request screen', () => {
    expect(generalErrorMessage({ kind: 'network', message: 'x' })).toMatch(/Can't reach/);
    expect(generalErrorMessage({ kind: 'server', message: 'wrong code: 4 attempts left' })).toBe(
      'Wrong code: 4 attempts left.',
    );
  });

  it('words refused decisions for History', () => {
    expect(decisionDetail(wrong.message)).toBe('The wrong number was picked, so the sign-in was denied.');
    expect(decisionDetail('rate limited')).toBe('Rate limited.');
  });

  it('joins lists in English', () => {
    expect(joinList([])).toBe('');
    expect(joinList(['a'])).toBe('a');
    expect(joinList(['a', 'b'])).toBe('a and b');
    expect(joinList(['a', 'b', 'c'])).toBe('a, b and c');
  });
});

describe('what a request is for: sign-in, verification, re-authentication', () => {
  it('heads the request by its purpose', () => {
    expect(purposeTitle('sign-in', 'Acme Shop')).toBe('Sign in to Acme Shop');
    expect(purposeTitle('verification', 'Acme Shop')).toBe('Verify your details for Acme Shop');
    expect(purposeTitle('reauthentication', 'Acme Shop')).toBe("Confirm it's you for Acme Shop");
  });

  it('reads a missing or unknown purpose as a sign-in', () => {
    expect(purposeTitle(undefined, 'Acme')).toBe('Sign in to Acme');
    expect(knownPurpose('something-newer')).toBe('sign-in');
    expect(knownPurpose(null)).toBe('sign-in');
    expect(knownPurpose('verification')).toBe('verification');
  });

  it('says what the client asks and where the number is', () => {
    expect(purposeAsk('sign-in')).toBe('wants you to sign in');
    expect(purposeAsk('verification')).toBe('asks you to verify your details');
    expect(purposeAsk('reauthentication')).toBe("asks you to confirm it's you");
    expect(numbersQuestion('sign-in', 'Acme')).toBe('Which number is on the sign-in page?');
    expect(numbersQuestion('verification', 'Acme')).toBe('Which number does Acme show?');
    expect(approveHint('pick-number', 'Acme', CLAIMS, 'reauthentication')).toBe('Pick the number Acme shows to approve.');
    expect(approveHint('pick-number', 'Acme', CLAIMS, 'sign-in')).toMatch(/sign-in page/);
  });

  it('names the kind in History only when it is not a sign-in', () => {
    expect(purposeKind('sign-in')).toBeNull();
    expect(purposeKind(undefined)).toBeNull();
    expect(purposeKind('verification')).toBe('Verification');
    expect(purposeKind('reauthentication')).toBe('Identity confirmation');
  });

  it('words the result by purpose', () => {
    expect(resultText('approved', 'sign-in', 'Acme')[0]).toBe('You’re signed in to Acme');
    expect(resultText('approved', 'verification', 'Acme')[0]).toBe('Your details were shared with Acme');
    expect(resultText('approved', 'reauthentication', 'Acme')[0]).toBe("You confirmed it's you to Acme");
    expect(resultText('denied', 'sign-in', 'Acme')).toEqual(['Sign-in denied', 'Nothing was shared with Acme.']);
    expect(resultText('denied', 'verification', 'Acme')[0]).toBe('Verification denied');
    expect(resultText('denied', 'reauthentication', 'Acme')[0]).toBe('Confirmation denied');
    expect(resultText('reported', 'sign-in', 'Acme')[1]).toMatch(/this sign-in wasn’t you/);
    expect(resultText('reported', 'verification', 'Acme')[1]).toMatch(/told it wasn’t you/);
  });
});

describe('backchannel requests: started by the client, no number to match', () => {
  const ciba = { backchannel: true, binding_message: 'Order 1234' };
  const quiet = { backchannel: true, binding_message: null };
  const page = { backchannel: false, binding_message: null };

  it('knows one by its flag; a missing flag is a request matched by number', () => {
    expect(isBackchannel(ciba)).toBe(true);
    expect(isBackchannel(page)).toBe(false);
    expect(isBackchannel({})).toBe(false);
    expect(isBackchannel({ backchannel: null })).toBe(false);
  });

  it('shows the message only of a backchannel request, and a blank one as none', () => {
    expect(bindingMessage(ciba)).toBe('Order 1234');
    expect(bindingMessage(quiet)).toBeNull();
    expect(bindingMessage({ backchannel: true, binding_message: '   ' })).toBeNull();
    expect(bindingMessage({ backchannel: false, binding_message: 'Order 1234' })).toBeNull();
    // Text as it came: markup is not interpreted here (the DOM gets a text node).
    expect(bindingMessage({ backchannel: true, binding_message: '<b>Tom & Jerry</b>' })).toBe('<b>Tom & Jerry</b>');
  });

  it('heads it "Sign-in requested by X"', () => {
    expect(requestTitle('sign-in', ciba, 'Acme Shop')).toBe('Sign-in requested by Acme Shop');
    expect(requestTitle('sign-in', page, 'Acme Shop')).toBe('Sign in to Acme Shop');
    expect(requestTitle(undefined, {}, 'Acme Shop')).toBe('Sign in to Acme Shop');
    expect(requestTitle('verification', ciba, 'Acme Shop')).toBe('Verify your details for Acme Shop');
    expect(requestAsk('sign-in', ciba)).toBe('started a sign-in and asks you to approve it');
    expect(requestAsk('sign-in', page)).toBe('wants you to sign in');
    expect(requestKind('sign-in', ciba, 'Acme Shop')).toBe('Requested by Acme Shop');
    expect(requestKind('sign-in', page, 'Acme Shop')).toBeNull();
    expect(requestKind('reauthentication', page, 'Acme Shop')).toBe('Identity confirmation');
  });

  it('asks to check the message in place of a number', () => {
    expect(bindingCheck(ciba, 'Acme Shop')).toEqual({
      title: 'Check that Acme Shop shows this message',
      approveOnly: 'Only approve if Acme Shop shows this message.',
    });
    const none = bindingCheck(quiet, 'Acme Shop');
    expect(none?.title).toBe('No message to check');
    expect(none?.approveOnly).toMatch(/^Acme Shop sent no message with this request\. Only approve if you just asked Acme Shop/);
    expect(bindingCheck(page, 'Acme Shop')).toBeNull();
  });

  it('approves without a number, and a page request still needs one', () => {
    const base: ApproveInput = { phase: 'pending', picked: null, numbers: [27, 64, 81], claims: [], backchannel: true };
    expect(approveBlocker(base)).toBeNull();
    expect(approveNumber(ciba, null)).toBeNull();
    // Whatever was picked, a backchannel approval sends none.
    expect(approveNumber(ciba, 64)).toBeNull();
    expect(approveNumber(page, 64)).toBe(64);
    expect(approveBlocker({ ...base, backchannel: false })).toBe('pick-number');
    expect(approveBlocker({ ...base, phase: 'busy' })).toBe('busy');
    expect(approveBlocker({ ...base, phase: 'done' })).toBe('closed');
    const claims = [claim('email', { required: true, available: false, value: null, label: 'Email address' })];
    expect(approveBlocker({ ...base, claims })).toBe('missing-required');
  });

  it('says the client carries on once approved (there is no browser to go back to)', () => {
    expect(resultText('approved', 'sign-in', 'Acme', ciba)).toEqual(['You’re signed in to Acme', 'Acme continues by itself.']);
    expect(resultText('approved', 'sign-in', 'Acme', page)[1]).toMatch(/browser/);
    expect(resultText('denied', 'sign-in', 'Acme', ciba)).toEqual(['Sign-in denied', 'Nothing was shared with Acme.']);
  });
});

import { describe, expect, it } from 'vitest';
import { signedOutNotice, signOutFailure } from './signout-logic';

describe('signedOutNotice', () => {
  it('says how many websites were told, if any', () => {
    expect(signedOutNotice(0)).toBe('Signed out everywhere.');
    expect(signedOutNotice(1)).toBe('Signed out everywhere. 1 website was told.');
    expect(signedOutNotice(3)).toBe('Signed out everywhere. 3 websites were told.');
  });

  it('never shows a nonsensical count', () => {
    expect(signedOutNotice(-1)).toBe('Signed out everywhere.');
    expect(signedOutNotice(Number.NaN)).toBe('Signed out everywhere.');
    expect(signedOutNotice(2.7)).toBe('Signed out everywhere. 2 websites were told.');
  });
});

describe('signOutFailure', () => {
  it('passes on the server’s words', () => {
    expect(signOutFailure({ kind: 'server', message: 'this Authentiq ID was revoked' })).toBe(
      'Not signed out: your Authentiq server refused. This Authentiq ID was revoked.',
    );
  });

  it('says what to do when the server cannot be reached', () => {
    const m = signOutFailure({ kind: 'network', message: 'connection refused' });
    expect(m).toMatch(/^Not signed out\. Can't reach the Authentiq server/);
    expect(m).toMatch(/try again\.$/);
  });

  it('passes on the keyring’s instructions', () => {
    expect(signOutFailure({ kind: 'keyring', message: 'the keyring is locked: unlock it' })).toBe(
      'Not signed out. The keyring is locked: unlock it.',
    );
  });

  it('knows when the ID is gone', () => {
    expect(signOutFailure({ kind: 'no_identity', message: 'x' })).toBe(
      'Not signed out: this device has no Authentiq ID any more.',
    );
  });

  it('names a failure of the app’s core', () => {
    expect(signOutFailure({ kind: 'ipc', message: 'no bridge' })).toMatch(/^Not signed out\. The app's core did not answer/);
  });
});

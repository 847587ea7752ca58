// "Sign out everywhere" (Settings): what the app says, as pure functions
// (no DOM, no IPC). Tested in signout-logic.test.ts.
import type { CommandError } from './api';
import { generalErrorMessage } from './request-logic';

/** The notice once the server has signed the ID out everywhere. */
export function signedOutNotice(clientsTold: number): string {
  const n = Number.isFinite(clientsTold) && clientsTold > 0 ? Math.floor(clientsTold) : 0;
  const base = 'Signed out everywhere.';
  if (n === 0) return base;
  return `${base} ${n} ${n === 1 ? 'website was' : 'websites were'} told.`;
}

/**
 * What the confirmation dialog says when signing out did not work (it
 * stays open for another try): nothing was signed out.
 */
export function signOutFailure(err: CommandError): string {
  switch (err.kind) {
    case 'server':
      return `Not signed out: your Authentiq server refused. ${generalErrorMessage(err)}`;
    case 'no_identity':
      return 'Not signed out: this device has no Authentiq ID any more.';
    default:
      return `Not signed out. ${generalErrorMessage(err)}`;
  }
}

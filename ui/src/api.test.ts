import { describe, expect, it } from 'vitest';
import { toCommandError } from './api';

describe('toCommandError', () => {
  it('keeps a serialized CommandError as it is', () => {
    expect(toCommandError({ kind: 'keyring_locked', message: 'Unlock your keyring' })).toEqual({
      kind: 'keyring_locked',
      message: 'Unlock your keyring',
    });
  });

  it('uses the kind as the message when there is none', () => {
    expect(toCommandError({ kind: 'offline' })).toEqual({ kind: 'offline', message: 'offline' });
  });

  it('wraps JavaScript errors and strings as ipc errors', () => {
    expect(toCommandError(new Error('no bridge'))).toEqual({ kind: 'ipc', message: 'no bridge' });
    expect(toCommandError('denied')).toEqual({ kind: 'ipc', message: 'denied' });
    expect(toCommandError({ kind: 5 })).toEqual({ kind: 'ipc', message: '[object Object]' });
  });
});

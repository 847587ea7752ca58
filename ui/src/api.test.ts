import { beforeEach, describe, expect, it, vi } from 'vitest';

const invoke = vi.fn();
const listen = vi.fn();
vi.mock('@tauri-apps/api/core', () => ({ invoke: (...a: unknown[]) => invoke(...a) }));
vi.mock('@tauri-apps/api/event', () => ({ listen: (...a: unknown[]) => listen(...a) }));

const { api, on, toCommandError, isCommandError } = await import('./api');

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

  it('recognises a CommandError', () => {
    expect(isCommandError({ kind: 'server', message: 'no' })).toBe(true);
    expect(isCommandError({ kind: 'server' })).toBe(false);
    expect(isCommandError(null)).toBe(false);
  });
});

describe('api: the commands of src/contract.md', () => {
  beforeEach(() => {
    invoke.mockReset();
    invoke.mockResolvedValue(undefined);
  });

  it.each([
    ['status', () => api.status(), undefined],
    ['app_info', () => api.appInfo(), undefined],
    ['ui_painted', () => api.uiPainted(), undefined],
    ['quit', () => api.quit(), undefined],
    ['create_identity', () => api.createIdentity('https://id.example'), { server: 'https://id.example' }],
    ['verify_start', () => api.verifyStart('email', 'a@b.c'), { scope: 'email', value: 'a@b.c' }],
    ['verify_finish', () => api.verifyFinish('phone', '+441', '123456'), { scope: 'phone', value: '+441', code: '123456' }],
    ['id_qr_svg', () => api.idQrSvg(), undefined],
    ['approve', () => api.approve('r1', 47, ['phone'], true), { id: 'r1', number: 47, share: ['phone'], remember: true }],
    // A backchannel request: no number to send.
    ['approve', () => api.approve('r2', null, [], false), { id: 'r2', number: null, share: [], remember: false }],
    ['deny', () => api.deny('r1', true), { id: 'r1', report: true }],
    ['open_session', () => api.openSession('authentiq://x'), { uri: 'authentiq://x' }],
    ['history', () => api.history(50), { limit: 50 }],
    ['get_settings', () => api.getSettings(), undefined],
    [
      'set_settings',
      () => api.setSettings({ server: 's', notifications: false, start_at_login: true }),
      { settings: { server: 's', notifications: false, start_at_login: true } },
    ],
    ['revoke', () => api.revoke('secret'), { secret: 'secret' }],
    ['sign_out_everywhere', () => api.signOutEverywhere(), undefined],
    ['unsaved_secret', () => api.unsavedSecret(), undefined],
    ['secret_saved', () => api.secretSaved(), undefined],
    // Devices: Tauri maps the camelCase keys to the commands' snake_case parameters.
    ['suggested_device_name', () => api.suggestedDeviceName(), undefined],
    ['devices', () => api.devices(), undefined],
    ['rename_device', () => api.renameDevice('D1', 'Desk'), { device: 'D1', name: 'Desk' }],
    ['remove_device', () => api.removeDevice('D1'), { device: 'D1' }],
    ['link_start', () => api.linkStart('https://id.example', 'ID', 'Desk'), { server: 'https://id.example', id: 'ID', deviceName: 'Desk' }],
    ['link_cancel', () => api.linkCancel(), undefined],
    ['answer_link', () => api.answerLink('https://id.example/link/p', 47), { pairing: 'https://id.example/link/p', number: 47 }],
    ['answer_link', () => api.answerLink('https://id.example/link/p', null), { pairing: 'https://id.example/link/p', number: null }],
    [
      'recover_start',
      () => api.recoverStart('https://id.example', 'ID', 'Desk', 'a@b.c', null, 's3cret'),
      { server: 'https://id.example', id: 'ID', deviceName: 'Desk', email: 'a@b.c', phone: null, secret: 's3cret' },
    ],
    ['recover_confirm', () => api.recoverConfirm('123456', null), { emailCode: '123456', phoneCode: null }],
    ['recover_complete', () => api.recoverComplete(), undefined],
    ['recover_abandon', () => api.recoverAbandon(), undefined],
    ['cancel_recovery', () => api.cancelRecovery('https://id.example/recovery/r'), { recovery: 'https://id.example/recovery/r' }],
  ] as const)('%s', async (cmd, run, args) => {
    await run();
    expect(invoke).toHaveBeenCalledTimes(1);
    expect(invoke).toHaveBeenCalledWith(cmd, args);
  });

  it('resolves with what the command returned', async () => {
    invoke.mockResolvedValue({ name: 'Authentiq', version: '1.2.3' });
    await expect(api.appInfo()).resolves.toEqual({ name: 'Authentiq', version: '1.2.3' });
  });

  it('resolves sign_out_everywhere with the clients told', async () => {
    invoke.mockResolvedValue({ clients_told: 2 });
    await expect(api.signOutEverywhere()).resolves.toEqual({ clients_told: 2 });
  });

  it('rejects with a CommandError', async () => {
    invoke.mockRejectedValue({ kind: 'network', message: 'connection refused' });
    await expect(api.status()).rejects.toEqual({ kind: 'network', message: 'connection refused' });
    invoke.mockRejectedValue('plain string');
    await expect(api.status()).rejects.toEqual({ kind: 'ipc', message: 'plain string' });
  });
});

describe('on: the events of src/contract.md', () => {
  it('listens and hands the handler the payload only', async () => {
    const unlisten = vi.fn();
    listen.mockReset();
    listen.mockResolvedValue(unlisten);
    const handler = vi.fn();
    const stop = await on('connection', handler);
    expect(listen).toHaveBeenCalledWith('connection', expect.any(Function));
    const wrapped = listen.mock.calls[0][1] as (e: { event: string; payload: unknown; id: number }) => void;
    wrapped({ event: 'connection', payload: { connected: true }, id: 1 });
    expect(handler).toHaveBeenCalledWith({ connected: true });
    stop();
    expect(unlisten).toHaveBeenCalled();
  });
});

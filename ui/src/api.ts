// Every call into the Rust side goes through this module, typed.
// The shapes mirror src/contract.md (snake_case, as serde writes them).
// Times are Unix seconds.
import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';

/** Mirrors `CommandError` in src-tauri/src/error.rs. */
export interface CommandError {
  kind: string;
  message: string;
}

/** The error kinds the Rust side documents (others may appear: `ipc` is ours). */
export type CommandErrorKind =
  | 'no_identity'
  | 'keyring'
  | 'server'
  | 'network'
  | 'expired'
  | 'not_found'
  | 'invalid'
  | 'internal'
  | 'ipc';

export interface AppInfo {
  name: string;
  version: string;
}

export type GrantScope = 'email' | 'phone';

export interface Grant {
  scope: GrantScope;
  value: string;
  /** When the issuer's grant expires (Unix seconds). */
  exp: number;
}

export interface Profile {
  /** The Authentiq ID: 43 characters of unpadded base64url. */
  pk: string;
  server: string;
  verified: Grant[];
}

export interface Claim {
  /** Scope name, e.g. "email", "aq:name". */
  name: string;
  label: string;
  required: boolean;
  /** The relying party wants it verified (signed by the issuer: `~s`). */
  verified: boolean;
  /** The app can share it. */
  available: boolean;
  value: string | null;
}

/**
 * What a request is for; every purpose is answered alike (the number, then
 * Approve or Deny — no number for a backchannel request: see
 * `RequestView.backchannel`), only the wording differs (see `purposeTitle`).
 * - `sign-in`: "Sign in to X";
 * - `verification`: a client's backend asks for verified details, "Verify your details for X";
 * - `reauthentication`: a client that knows the user asks them to confirm it, "Confirm it's you for X".
 */
export type Purpose = 'sign-in' | 'verification' | 'reauthentication';

export interface RequestView {
  id: string;
  session: string;
  purpose: Purpose;
  /**
   * Started by the client's backend (OpenID Connect CIBA): no sign-in page
   * shows a number, so none is picked — Approve sends `number: null` — and
   * the user checks `binding_message` against what the client shows instead.
   */
  backchannel: boolean;
  /** With `backchannel`: the client's short message (plain text, ≤ 64 characters), if it sent one. */
  binding_message: string | null;
  client_id: string;
  client_name: string;
  client_uri: string | null;
  scope: string;
  ip: string;
  user_agent: string | null;
  numbers: [number, number, number];
  received_at: number;
  expires_at: number;
  claims: Claim[];
  wants_push: boolean;
}

export type DecisionResult = 'approved' | 'denied' | 'reported' | 'refused';

export interface Decision {
  request_id: string;
  /** What the request decided on was for. */
  purpose: Purpose;
  /** It was started by the client's backend (no number was matched). */
  backchannel: boolean;
  /** Its binding message, if the client sent one. */
  binding_message: string | null;
  client_id: string;
  client_name: string;
  ip: string;
  user_agent: string | null;
  decided_at: number;
  result: DecisionResult;
  detail: string | null;
}

export interface Settings {
  server: string;
  notifications: boolean;
  start_at_login: boolean;
}

export interface Status {
  profile: Profile | null;
  connected: boolean;
  /** Why the device channel cannot run (a locked keyring…), if it cannot. */
  channel_problem: string | null;
  pending: RequestView[];
  default_server: string | null;
  /** The new ID's revocation secret is not confirmed saved yet: onboarding resumes there. */
  secret_unsaved: boolean;
  /** Which secret that is: a new ID's revocation secret, or a recovered ID's new recovery secret. */
  unsaved_secret_kind: 'revocation' | 'recovery' | null;
  /** This computer waits to be linked to an existing ID (no profile yet). */
  linking: Linking | null;
  /** This computer is recovering an ID (no profile until it completes). */
  recovering: Recovering | null;
  /** What the ID's other devices ask of this one (link requests, recoveries). */
  device_requests: DeviceRequest[];
}

/** One device of the Authentiq ID. */
export interface DeviceInfo {
  /** The device's key. */
  device: string;
  name: string;
  added_at: number;
  last_used_at: number | null;
}

export interface DeviceList {
  devices: DeviceInfo[];
  /** The key of the device the app runs on. */
  this_device: string;
}

/** A link of this computer to an existing ID, waiting for another device's approval. */
export interface Linking {
  /** The pairing's URL. */
  pairing: string;
  /** The number to pick on the other device. */
  number: number;
  /** The pairing URL as SVG QR-code markup. */
  qr_svg: string;
}

/** A recovery of an ID on this computer. */
export interface Recovering {
  /** The recovery's URL. */
  recovery: string;
  /** Once the codes are confirmed: when it can complete (Unix seconds). */
  completes_at: number | null;
  /** A code was sent to the phone too. */
  phone_needed: boolean;
}

export type DeviceRequestKind = 'link' | 'recovery';

/** Another device's request of this one: to be linked, or a recovery of the ID under way. */
export interface DeviceRequest {
  kind: DeviceRequestKind;
  /** The pairing URL (a link) or the recovery URL. */
  url: string;
  /** The new device's key. */
  device: string;
  name: string;
  ip: string;
  user_agent: string | null;
  /** A link request's three candidates (the new device shows one). */
  numbers: [number, number, number] | null;
  /** A recovery's end of the waiting period (Unix seconds). */
  completes_at: number | null;
  received_at: number;
}

export interface RecoveryStart {
  recovery: string;
  phone_needed: boolean;
}

export interface LinkFinished {
  status: 'linked' | 'refused';
  message: string | null;
}

export interface SignedOut {
  /** Clients the server sent a back-channel logout token. */
  clients_told: number;
}

export interface CreatedIdentity {
  pk: string;
  revocation_secret: string;
}

/** Turns whatever a rejected `invoke` produced into a `CommandError`. */
export function toCommandError(e: unknown): CommandError {
  if (typeof e === 'object' && e !== null && 'kind' in e) {
    const { kind, message } = e as { kind: unknown; message?: unknown };
    if (typeof kind === 'string') {
      return { kind, message: typeof message === 'string' ? message : kind };
    }
  }
  if (e instanceof Error) return { kind: 'ipc', message: e.message };
  return { kind: 'ipc', message: String(e) };
}

/** Whether a value is a `CommandError` (what every `api.*` promise rejects with). */
export function isCommandError(e: unknown): e is CommandError {
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof (e as CommandError).kind === 'string' &&
    typeof (e as CommandError).message === 'string'
  );
}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw toCommandError(e);
  }
}

// Tauri maps the camelCase keys of `invoke` arguments to the snake_case
// parameters of the Rust commands (`deviceName` → `device_name`).
export const api = {
  appInfo: () => call<AppInfo>('app_info'),
  /** The first screen is painted (the app logs its startup time). */
  uiPainted: () => call<void>('ui_painted'),
  /** Quits the app (closing the window keeps it running in the background). */
  quit: () => call<void>('quit'),
  status: () => call<Status>('status'),
  createIdentity: (server: string) => call<CreatedIdentity>('create_identity', { server }),
  verifyStart: (scope: GrantScope, value: string) =>
    call<void>('verify_start', { scope, value }),
  verifyFinish: (scope: GrantScope, value: string, code: string) =>
    call<Grant>('verify_finish', { scope, value, code }),
  idQrSvg: () => call<string>('id_qr_svg'),
  /** `number`: the one picked; `null` for a backchannel request (it has none). */
  approve: (id: string, number: number | null, share: string[], remember: boolean) =>
    call<void>('approve', { id, number, share, remember }),
  deny: (id: string, report: boolean) => call<void>('deny', { id, report }),
  openSession: (uri: string) => call<RequestView>('open_session', { uri }),
  history: (limit: number) => call<Decision[]>('history', { limit }),
  getSettings: () => call<Settings>('get_settings'),
  setSettings: (settings: Settings) => call<void>('set_settings', { settings }),
  revoke: (secret: string) => call<void>('revoke', { secret }),
  /** Ends every sign-in session and refresh token of the ID on the server (the ID stays). */
  signOutEverywhere: () => call<SignedOut>('sign_out_everywhere'),
  /** The new ID's revocation secret, until `secretSaved()` (null after). */
  unsavedSecret: () => call<string | null>('unsaved_secret'),
  secretSaved: () => call<void>('secret_saved'),
  /** A name for this computer to offer (its host name, or "This computer"). */
  suggestedDeviceName: () => call<string>('suggested_device_name'),
  devices: () => call<DeviceList>('devices'),
  renameDevice: (device: string, name: string) => call<void>('rename_device', { device, name }),
  /** Removes another device of the ID: its key stops working at once. */
  removeDevice: (device: string) => call<void>('remove_device', { device }),
  /** On a computer without an ID: asks to link it; resolves with the number once the server gave it. */
  linkStart: (server: string, id: string, deviceName: string) =>
    call<Linking>('link_start', { server, id, deviceName }),
  /** Stops waiting for the link. */
  linkCancel: () => call<void>('link_cancel'),
  /** Approves another device's link with the number it shows, or denies it (`null`). */
  answerLink: (pairing: string, number: number | null) => call<void>('answer_link', { pairing, number }),
  recoverStart: (server: string, id: string, deviceName: string, email: string, phone: string | null, secret: string) =>
    call<RecoveryStart>('recover_start', { server, id, deviceName, email, phone, secret }),
  recoverConfirm: (emailCode: string, phoneCode: string | null) =>
    call<{ completes_at: number }>('recover_confirm', { emailCode, phoneCode }),
  /** After the waiting period: this computer becomes the ID's device; the new recovery secret (shown once). */
  recoverComplete: () => call<{ recovery_secret: string }>('recover_complete'),
  /** Gives up the recovery on this computer (its key and profile go). */
  recoverAbandon: () => call<void>('recover_abandon'),
  /** On a device of the ID: cancels a recovery someone started. */
  cancelRecovery: (recovery: string) => call<void>('cancel_recovery', { recovery }),
};

/** Why this computer's key stopped working (the `revoked` event). */
export type RevokedReason = 'key-revoked' | 'device-removed';

/** The events the Rust side emits, with their payloads. */
export interface EventPayloads {
  'requests-changed': RequestView[];
  connection: { connected: boolean; problem: string | null };
  navigate: { screen: 'request'; id: string };
  /**
   * This computer's key stopped working and the app has forgotten the ID:
   * `key-revoked` (the ID was revoked), `device-removed` (this device was
   * removed from the ID, on another device or by a recovery), `null` (the
   * server refused the key without saying which).
   */
  revoked: { reason: RevokedReason | null } | null;
  /** A sign-in link (authentiq://…) could not be opened: why. */
  'link-error': { message: string };
  /** This computer's link to an existing ID ended. */
  'link-finished': LinkFinished;
  /** What the ID's other devices ask of this one changed. */
  'device-requests-changed': DeviceRequest[];
  /** The ID's devices changed elsewhere (one removed, or one linked). */
  'devices-changed': null;
}

export type EventName = keyof EventPayloads;

/**
 * Listens to one of the app's events; resolves to a function that stops
 * listening. The handler receives the payload only.
 */
export function on<E extends EventName>(
  event: E,
  handler: (payload: EventPayloads[E]) => void,
): Promise<UnlistenFn> {
  return listen<EventPayloads[E]>(event, (e) => handler(e.payload));
}

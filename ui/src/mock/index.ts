// DEVELOPMENT ONLY: a stand-in for the Rust side, loaded by main.ts when
// Vite runs with `--mode mock` (never in a production build).
//
//   npm run dev -- --mode mock                 → http://localhost:5173/?scenario=home
//
// Query parameters:
//   scenario = fresh | home (default) | empty | full | missing | offline | locked
//              | unsaved (an ID whose revocation secret was not confirmed saved)
//              | unsaved-recovery (a recovered ID whose new recovery secret was not confirmed saved)
//              | keyring (the channel stopped: the keyring is locked)
//              | verification (request 3fa2c1 asks to verify your details)
//              | reauthentication (request 3fa2c1 asks to confirm it's you)
//              | backchannel (request 3fa2c1 was started by Acme Shop's backend:
//                no number, the binding message "Order 1234" to check)
//              | backchannel-plain (the same, without a binding message)
//              | device-requests (a new device asks to join; someone is recovering the ID)
//              | linking (no ID; this computer waits for its link to be approved)
//              | recovering (no ID; a recovery here waits out its delay: 20 s)
//              | recovering-codes (no ID; a recovery here waits for its codes)
//   do       = a script run after start, steps separated by ";":
//              click:SEL  type:SEL=TEXT  wait:MS  hash:#/route  emit:navigate=ID
//              emit:requests  emit:offline  emit:online  focus:SEL
//              emit:link-request  emit:recovery  emit:withdrawn  (device requests)
//   secret   = the revocation secret revoke() accepts (default: the one shown)
//   signout  = fail: sign_out_everywhere() cannot reach the server (default: 2 clients told)
//   link     = refuse: the other device refuses the link (default: approved after 4 s)
//   delay    = a recovery's waiting period in seconds (default 20)
import { emit } from '@tauri-apps/api/event';
import { mockIPC } from '@tauri-apps/api/mocks';
import type {
  Claim,
  Decision,
  DeviceInfo,
  DeviceRequest,
  Grant,
  Linking,
  Profile,
  Purpose,
  Recovering,
  RequestView,
  Settings,
  Status,
} from '../api';

const params = new URLSearchParams(location.search);
const scenario = params.get('scenario') ?? 'home';
const now = () => Math.floor(Date.now() / 1000);
const T0 = now();

const PK = 'kX3fQ9vB2mZrT7wLpA4sN8yHcE1uJ6dGoR5tVbW0qIa';
const SECRET = 'Zp7Q-mR2xK9vL4tB8nW1cY6hF3jD5sA0gE_uT2oPqVi';
const SERVER = 'https://id.example.com';

const email: Grant = { scope: 'email', value: 'alex.morgan@example.com', exp: T0 + 365 * 86400 };
const phone: Grant = { scope: 'phone', value: '+447700900123', exp: T0 + 365 * 86400 };

const noId = ['fresh', 'linking', 'recovering', 'recovering-codes'].includes(scenario);
let profile: Profile | null =
  noId
    ? null
    : { pk: PK, server: SERVER, verified: scenario === 'empty' ? [] : scenario === 'full' ? [email, phone] : [email] };
let connected = scenario !== 'offline' && scenario !== 'empty' && scenario !== 'keyring';
let settings: Settings = { server: SERVER, notifications: true, start_at_login: false };
/** The new ID's revocation secret until the user says it is saved. */
let unsaved: string | null = scenario === 'unsaved' || scenario === 'unsaved-recovery' ? SECRET : null;
let unsavedKind: 'revocation' | 'recovery' = scenario === 'unsaved-recovery' ? 'recovery' : 'revocation';
/** The number each request's sign-in page shows. */
const shown = new Map<string, number>();

// --- Devices ------------------------------------------------------------------
const THIS_DEVICE = 'dEv1cEkEyThIsCoMpUtEr00000000000000000000aa';
let devices: DeviceInfo[] = [
  { device: THIS_DEVICE, name: 'Desk', added_at: T0 - 90 * 86400, last_used_at: T0 - 120 },
  { device: 'lApToPkEy0000000000000000000000000000000bb', name: 'Work laptop', added_at: T0 - 20 * 86400, last_used_at: T0 - 3 * 3600 },
  { device: 'oLdPcKeY00000000000000000000000000000000cc', name: 'Old PC', added_at: T0 - 400 * 86400, last_used_at: null },
];
const PAIRING = `${SERVER}/link/p-7f3a9c`;
const RECOVERY = `${SERVER}/recovery/r-51be02`;
/** The number the new device of a mocked link request shows. */
const LINK_NUMBER = 47;
function linkRequest(): DeviceRequest {
  return {
    kind: 'link',
    url: `${SERVER}/link/p-incoming`,
    device: 'nEwDeViCe000000000000000000000000000000000dd',
    name: 'Home laptop',
    ip: '203.0.113.61',
    user_agent: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
    numbers: [12, LINK_NUMBER, 83],
    completes_at: null,
    received_at: now(),
  };
}
function recoveryRequest(): DeviceRequest {
  return {
    kind: 'recovery',
    url: `${SERVER}/recovery/r-incoming`,
    device: 'rEcOvErY000000000000000000000000000000000ee',
    name: 'Unknown PC',
    ip: '198.51.100.200',
    user_agent: 'aq/0.1.0',
    numbers: null,
    completes_at: now() + 23 * 3600 + 40 * 60,
    received_at: now(),
  };
}
let deviceRequests: DeviceRequest[] = scenario === 'device-requests' ? [linkRequest(), recoveryRequest()] : [];
let linking: Linking | null = scenario === 'linking' ? { pairing: PAIRING, number: 58, qr_svg: fakeQr() } : null;
let recovering: Recovering | null =
  scenario === 'recovering'
    ? { recovery: RECOVERY, completes_at: T0 + 20, phone_needed: false }
    : scenario === 'recovering-codes'
      ? { recovery: RECOVERY, completes_at: null, phone_needed: true }
      : null;
function emitDeviceRequests(): void {
  void emit('device-requests-changed', deviceRequests);
}

function claim(name: string, label: string, required: boolean, verified: boolean): Claim {
  const grant = profile?.verified.find((g) => (name === 'email' ? g.scope === 'email' : name === 'phone' ? g.scope === 'phone' : false));
  const local: Record<string, string> = { 'aq:name': 'Alex Morgan', 'aq:locale': 'en-GB', 'aq:zoneinfo': 'Europe/London' };
  const value = grant?.value ?? local[name] ?? null;
  return { name, label, required, verified, available: value !== null, value };
}

function makeRequests(): RequestView[] {
  if (noId || scenario === 'empty') return [];
  const acme: RequestView = {
    id: '3fa2c1',
    session: 'sess-3fa2c1',
    purpose: 'sign-in',
    backchannel: false,
    binding_message: null,
    client_id: 'acme-shop',
    client_name: 'Acme Shop',
    client_uri: 'https://shop.acme.example',
    scope: 'openid email~rs phone aq:name aq:locale aq:push',
    ip: '203.0.113.24',
    user_agent: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
    numbers: [27, 64, 81],
    received_at: T0 - 48,
    expires_at: T0 + 252,
    claims: [
      claim('email', 'Email address', true, true),
      claim('phone', 'Phone number', false, true),
      claim('aq:name', 'Name', false, false),
      claim('aq:locale', 'Language', false, false),
    ],
    wants_push: true,
  };
  shown.set(acme.id, 64);
  if (scenario === 'missing') {
    acme.claims = [claim('email', 'Email address', true, true), claim('phone', 'Phone number', true, true)];
    return [acme];
  }
  if (scenario === 'verification') {
    // A client's backend asks for verified details (an SDK verification flow).
    Object.assign(acme, {
      purpose: 'verification',
      scope: 'openid email~rs phone~s',
      claims: [claim('email', 'Email address', true, true), claim('phone', 'Phone number', false, true)],
      wants_push: false,
    });
  }
  if (scenario === 'reauthentication') {
    // A client that knows the user asks them to confirm it is them.
    Object.assign(acme, { purpose: 'reauthentication', scope: 'openid', claims: [], wants_push: false });
  }
  if (scenario === 'backchannel' || scenario === 'backchannel-plain') {
    // Acme Shop's backend (its call centre, its till) asks the user it knows
    // to approve a sign-in: there is no sign-in page and no number (CIBA).
    Object.assign(acme, {
      backchannel: true,
      binding_message: scenario === 'backchannel' ? 'Order 1234' : null,
      scope: 'openid email~rs',
      ip: '198.51.100.20',
      user_agent: 'acme-backend/2.3',
      claims: [claim('email', 'Email address', true, true)],
      wants_push: false,
    });
    shown.delete(acme.id);
  }
  const forum: RequestView = {
    id: '9b41e7',
    session: 'sess-9b41e7',
    purpose: 'sign-in',
    backchannel: false,
    binding_message: null,
    client_id: 'northwind',
    client_name: 'Northwind Forum',
    client_uri: 'https://forum.northwind.example',
    scope: 'openid email',
    ip: '198.51.100.7',
    user_agent:
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
    numbers: [12, 45, 93],
    received_at: T0 - 95,
    expires_at: T0 + 26,
    claims: [claim('email', 'Email address', false, false)],
    wants_push: false,
  };
  shown.set(forum.id, 45);
  return [acme, forum];
}

let pending = makeRequests();

const day = 86400;
let history: Decision[] =
  noId || scenario === 'empty'
    ? []
    : [
        dec('a1', 'Acme Shop', '203.0.113.24', T0 - 3600, 'approved', null, 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'),
        dec('a2', 'Northwind Forum', '198.51.100.7', T0 - 5400, 'denied', null, 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15'),
        dec('a3', 'Contoso Mail', '192.0.2.77', T0 - day - 1200, 'reported', null, 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36'),
        dec('a4', 'Acme Shop', '203.0.113.24', T0 - day - 7000, 'refused', 'the number does not match the one on the sign-in page; the sign-in is denied', 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'),
        dec('a5', 'Fabrikam Cloud', '203.0.113.90', T0 - 6 * day, 'approved', null, 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36'),
        dec('a6', 'Contoso Bank', '192.0.2.15', T0 - 6 * day - 600, 'approved', null, null, 'verification'),
        dec('a7', 'Contoso Bank', '192.0.2.15', T0 - 6 * day - 900, 'approved', null, null, 'reauthentication'),
        { ...dec('a8', 'Contoso Bank', '192.0.2.15', T0 - 6 * day - 1200, 'approved', null, null), backchannel: true, binding_message: 'Transfer 250 EUR' },
      ];

function dec(
  id: string,
  client: string,
  ip: string,
  at: number,
  result: Decision['result'],
  detail: string | null,
  ua: string | null,
  purpose: Purpose = 'sign-in',
): Decision {
  return {
    request_id: id,
    purpose,
    backchannel: false,
    binding_message: null,
    client_id: client.toLowerCase().replace(/\s+/g, '-'),
    client_name: client,
    ip,
    user_agent: ua,
    decided_at: at,
    result,
    detail,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function fail(kind: string, message: string): never {
  throw { kind, message };
}

function live(): RequestView[] {
  return pending.filter((r) => r.expires_at > now());
}

function status(): Status {
  const channel_problem =
    scenario === 'keyring' ? 'The keyring is locked: unlock “Login” in your keyring app (Passwords and Keys), then try again.' : null;
  return {
    profile,
    connected,
    channel_problem,
    pending: live(),
    default_server: SERVER,
    secret_unsaved: unsaved !== null,
    unsaved_secret_kind: unsaved === null ? null : unsavedKind,
    linking,
    recovering,
    device_requests: profile ? deviceRequests : [],
  };
}

function record(r: RequestView, result: Decision['result'], detail: string | null = null): void {
  const d = dec(r.id, r.client_name, r.ip, now(), result, detail, r.user_agent, r.purpose);
  history = [{ ...d, backchannel: r.backchannel, binding_message: r.binding_message }, ...history];
  pending = pending.filter((p) => p.id !== r.id);
  void emit('requests-changed', live());
}

/** A QR-looking SVG (deterministic noise with finder patterns): not a real code. */
function fakeQr(): string {
  const n = 29;
  let seed = 7;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const cells: string[] = [];
  const finder = (x: number, y: number) =>
    x < 7 && y < 7 ? true : x >= n - 7 && y < 7 ? true : x < 7 && y >= n - 7;
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      if (finder(x, y)) continue;
      if (rnd() < 0.48) cells.push(`M${x + 2} ${y + 2}h1v1h-1z`);
    }
  }
  const box = (x: number, y: number) =>
    `M${x + 2} ${y + 2}h7v7h-7z M${x + 3} ${y + 3}v5h5v-5z M${x + 4} ${y + 4}h3v3h-3z`;
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${n + 4} ${n + 4}" shape-rendering="crispEdges"><rect width="100%" height="100%" fill="#fff"/><path fill="#000" fill-rule="evenodd" d="${box(0, 0)} ${box(n - 7, 0)} ${box(0, n - 7)} ${cells.join(' ')}"/></svg>`;
}

type Args = Record<string, unknown>;

async function handle(cmd: string, a: Args): Promise<unknown> {
  console.debug('[mock] invoke', cmd, a);
  switch (cmd) {
    case 'app_info':
      return { name: 'Authentiq', version: '0.1.0' };
    case 'ui_painted':
    case 'quit':
      return null;
    case 'status':
      await sleep(80);
      if (scenario === 'locked') {
        fail('keyring', 'the keyring is locked: unlock “Login” in your keyring app (Passwords and Keys), then try again');
      }
      return status();
    case 'create_identity':
      await sleep(900);
      if (String(a.server).includes('unreachable')) fail('network', `cannot reach ${String(a.server)}`);
      profile = { pk: PK, server: String(a.server), verified: [] };
      settings = { ...settings, server: String(a.server) };
      unsaved = SECRET;
      unsavedKind = 'revocation';
      return { pk: PK, revocation_secret: SECRET };
    case 'unsaved_secret':
      return unsaved;
    case 'secret_saved':
      unsaved = null;
      return null;
    case 'verify_start':
      await sleep(600);
      if (String(a.value).includes('invalid')) fail('server', 'this address cannot receive codes');
      return null;
    case 'verify_finish': {
      await sleep(600);
      if (a.code === '000000') fail('server', 'wrong code: 4 attempts left');
      const g: Grant = { scope: a.scope as Grant['scope'], value: String(a.value), exp: now() + 365 * day };
      if (profile) profile = { ...profile, verified: [...profile.verified.filter((x) => x.scope !== g.scope), g] };
      return g;
    }
    case 'id_qr_svg':
      await sleep(150);
      return fakeQr();
    case 'approve': {
      await sleep(700);
      const r = pending.find((p) => p.id === a.id);
      if (!r) fail('not_found', `no pending sign-in request ${String(a.id)}`);
      if (r.expires_at <= now()) fail('expired', `sign-in request ${r.id} has expired`);
      if (params.get('offline-approve')) fail('network', 'connection refused');
      if (r.backchannel) {
        // As the Rust side: no number for a backchannel request.
        if (a.number !== null && a.number !== undefined) {
          fail('invalid', `Sign-in request ${r.id} has no number to match (${r.client_name} started it without a sign-in page): approve it without one.`);
        }
        record(r, 'approved');
        return null;
      }
      if (a.number === null || a.number === undefined) {
        fail('invalid', `Sign-in request ${r.id} needs the number shown on the sign-in page: pick it first.`);
      }
      if (a.number !== shown.get(r.id)) {
        const detail = 'the number does not match the one on the sign-in page; the sign-in is denied';
        record(r, 'refused', detail);
        fail('server', detail);
      }
      record(r, 'approved');
      return null;
    }
    case 'deny': {
      await sleep(500);
      const r = pending.find((p) => p.id === a.id);
      if (!r) fail('not_found', `no pending sign-in request ${String(a.id)}`);
      record(r, a.report ? 'reported' : 'denied');
      return null;
    }
    case 'open_session': {
      await sleep(500);
      const uri = String(a.uri);
      if (!/^(authentiq:|https?:)/.test(uri)) fail('invalid', 'this is not a sign-in link');
      const r: RequestView = {
        id: 'c0ffee',
        session: uri,
        purpose: 'sign-in',
        backchannel: false,
        binding_message: null,
        client_id: 'demo',
        client_name: 'Authentiq Demo',
        client_uri: 'http://127.0.0.1:8080/demo',
        scope: 'openid email',
        ip: '127.0.0.1',
        user_agent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
        numbers: [31, 58, 76],
        received_at: now(),
        expires_at: now() + 300,
        claims: [claim('email', 'Email address', false, true)],
        wants_push: false,
      };
      shown.set(r.id, 58);
      pending = [r, ...pending.filter((p) => p.id !== r.id)];
      void emit('requests-changed', live());
      return r;
    }
    case 'history':
      await sleep(120);
      return history.slice(0, Number(a.limit) || 100);
    case 'get_settings':
      await sleep(60);
      return settings;
    case 'set_settings':
      await sleep(200);
      settings = a.settings as Settings;
      return null;
    case 'sign_out_everywhere':
      await sleep(700);
      if (!profile) fail('no_identity', 'There is no Authentiq ID here yet: create one first.');
      if (params.get('signout') === 'fail') fail('network', `cannot reach the server at ${SERVER}: connection refused`);
      return { clients_told: 2 };
    case 'revoke':
      await sleep(800);
      if (a.secret !== (params.get('secret') ?? SECRET)) fail('server', 'wrong revocation secret');
      profile = null;
      pending = [];
      return null;
    case 'suggested_device_name':
      return 'alex-desktop';
    case 'devices':
      await sleep(300);
      if (!profile) fail('no_identity', 'There is no Authentiq ID here yet: create one first.');
      return { devices, this_device: THIS_DEVICE };
    case 'rename_device': {
      await sleep(400);
      const name = String(a.name).trim();
      if (!name) fail('invalid', 'Enter a name for the device.');
      devices = devices.map((d) => (d.device === a.device ? { ...d, name } : d));
      return null;
    }
    case 'remove_device':
      await sleep(500);
      if (a.device === THIS_DEVICE) fail('invalid', 'This is the device you are using: remove it from another device of your ID.');
      devices = devices.filter((d) => d.device !== a.device);
      return null;
    case 'link_start': {
      await sleep(700);
      if (String(a.server).includes('unreachable')) fail('network', `cannot reach ${String(a.server)}`);
      if (String(a.id).startsWith('unknown')) fail('server', 'no such identity');
      linking = { pairing: PAIRING, number: 58, qr_svg: fakeQr() };
      const refuse = params.get('link') === 'refuse';
      setTimeout(() => {
        if (!linking) return;
        linking = null;
        if (refuse) {
          void emit('link-finished', { status: 'refused', message: 'The link was refused on your other device, or it expired before anyone approved it.' });
          return;
        }
        profile = { pk: String(a.id), server: String(a.server), verified: [] };
        void emit('link-finished', { status: 'linked', message: null });
      }, 4000);
      return linking;
    }
    case 'link_cancel':
      linking = null;
      return null;
    case 'answer_link': {
      await sleep(500);
      const r = deviceRequests.find((d) => d.url === a.pairing);
      if (!r) fail('server', 'this link request has ended');
      deviceRequests = deviceRequests.filter((d) => d !== r);
      if (a.number !== null && a.number !== LINK_NUMBER) {
        emitDeviceRequests();
        fail('server', 'the number does not match the one the new device shows; the link is refused');
      }
      if (a.number !== null) {
        devices = [...devices, { device: r.device, name: r.name, added_at: now(), last_used_at: null }];
      }
      emitDeviceRequests();
      return null;
    }
    case 'recover_start':
      await sleep(800);
      if (String(a.secret) === 'wrong') fail('server', 'wrong recovery secret');
      recovering = { recovery: RECOVERY, completes_at: null, phone_needed: a.phone !== null && a.phone !== undefined };
      return { recovery: RECOVERY, phone_needed: recovering.phone_needed };
    case 'recover_confirm': {
      await sleep(600);
      if (!recovering) fail('not_found', 'No recovery is in progress on this computer.');
      if (a.emailCode === '000000') fail('server', 'wrong code: 4 attempts left');
      const completes_at = now() + (Number(params.get('delay')) || 20);
      recovering = { ...recovering, completes_at };
      return { completes_at };
    }
    case 'recover_complete': {
      await sleep(600);
      if (!recovering) fail('not_found', 'No recovery is in progress on this computer.');
      if (recovering.completes_at === null || recovering.completes_at > now()) {
        fail('server', 'the recovery is still waiting: it completes after its delay');
      }
      recovering = null;
      profile = { pk: PK, server: SERVER, verified: [] };
      unsaved = SECRET;
      unsavedKind = 'recovery';
      return { recovery_secret: SECRET };
    }
    case 'recover_abandon':
      await sleep(300);
      recovering = null;
      return null;
    case 'cancel_recovery':
      await sleep(600);
      if (!deviceRequests.some((d) => d.url === a.recovery)) fail('server', 'this recovery has ended');
      deviceRequests = deviceRequests.filter((d) => d.url !== a.recovery);
      emitDeviceRequests();
      return null;
    default:
      fail('internal', `the mock has no command ${cmd}`);
  }
}

export function installMock(): void {
  mockIPC((cmd, args) => handle(cmd, (args ?? {}) as Args), { shouldMockEvents: true });
  console.info(`[mock] Authentiq UI with a mocked backend, scenario "${scenario}"`);
}

async function waitFor(sel: string, ms = 4000): Promise<HTMLElement | null> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const el = document.querySelector<HTMLElement>(sel);
    if (el && !(el as HTMLButtonElement).disabled) return el;
    await sleep(50);
  }
  console.warn('[mock] not found:', sel);
  return null;
}

/** Runs the `do` script: clicks and typing, for screenshots of later steps. */
export async function runScript(): Promise<void> {
  const script = params.get('do');
  if (!script) return;
  await sleep(300);
  for (const step of script.split(';').filter(Boolean)) {
    const i = step.indexOf(':');
    const op = step.slice(0, i);
    const arg = step.slice(i + 1);
    switch (op) {
      case 'wait':
        await sleep(Number(arg));
        break;
      case 'click':
        (await waitFor(arg))?.click();
        break;
      case 'focus':
        (await waitFor(arg))?.focus();
        break;
      case 'type': {
        const eq = arg.indexOf('=');
        const el = (await waitFor(arg.slice(0, eq))) as HTMLInputElement | null;
        if (el) {
          el.value = arg.slice(eq + 1);
          el.dispatchEvent(new Event('input', { bubbles: true }));
        }
        break;
      }
      case 'hash':
        location.hash = arg;
        break;
      case 'emit': {
        const [what, value] = arg.split('=');
        if (what === 'navigate') await emit('navigate', { screen: 'request', id: value });
        if (what === 'requests') await emit('requests-changed', live());
        if (what === 'link-request' || what === 'recovery') {
          const r = what === 'link-request' ? linkRequest() : recoveryRequest();
          deviceRequests = [...deviceRequests.filter((d) => d.url !== r.url), r];
          emitDeviceRequests();
        }
        if (what === 'withdrawn') {
          deviceRequests = [];
          emitDeviceRequests();
        }
        if (what === 'offline' || what === 'online') {
          connected = what === 'online';
          await emit('connection', { connected, problem: null });
        }
        break;
      }
      default:
        console.warn('[mock] unknown step', step);
    }
    await sleep(60);
  }
}

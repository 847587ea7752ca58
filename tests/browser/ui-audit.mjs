// Audits the desktop app's screens for accessibility. The UI built in mock
// mode (`vite build --mode mock`: the Rust side mocked, as in development)
// is served from loopback and opened in Debian's Chromium (playwright-core),
// every screen in the light and the dark theme, and checked with axe-core
// against the WCAG 2.x A and AA rules (labels, names, roles, contrast, …).
// Then the request screen is answered with the keyboard alone, and so is a
// backchannel request (no number to pick: Approve straight away). Run by
// tests/tests/e2e/ui_audit.rs.
//
//   node ui-audit.mjs <dist-mock dir> <screenshot dir>
//
// Prints one JSON report on stdout; exits 1 when any screen has a violation
// or the keyboard walk fails, 2 on bad usage.

import { createServer } from "node:http";
import { mkdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { extname, join, normalize } from "node:path";
import { chromium } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";
const STEP_MS = 15_000;
const require = createRequire(import.meta.url);
const AXE = require.resolve("axe-core/axe.min.js");

const [dist, shots] = process.argv.slice(2);
if (!dist || !shots) {
  process.stderr.write("usage: node ui-audit.mjs <dist-mock dir> <screenshot dir>\n");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

// Each screen: where it is (mock scenario, script, route) and what shows it is up.
const SCREENS = [
  { name: "onboarding-server", query: "scenario=fresh", hash: "", ready: "#server-url" },
  { name: "onboarding-secret", query: "scenario=fresh&do=click:%23create-id", hash: "", ready: "#revocation-secret" },
  // The window was closed on the secret step: the app shows it again.
  { name: "onboarding-secret-resumed", query: "scenario=unsaved", hash: "#/home", ready: "#revocation-secret" },
  { name: "home", query: "scenario=home", hash: "#/home", ready: "img#id-qr[src^=\"data:\"]" },
  { name: "home-offline", query: "scenario=offline", hash: "#/home", ready: "#home" },
  { name: "home-keyring-locked", query: "scenario=keyring", hash: "#/home", ready: "#channel-problem:not([hidden])" },
  { name: "request", query: "scenario=home", hash: "#/request/3fa2c1", ready: "#request" },
  { name: "request-missing-claim", query: "scenario=missing", hash: "#/request/3fa2c1", ready: "#request" },
  // Requests for another purpose than a sign-in: a verification of the
  // user's details, and a re-authentication ("confirm it's you").
  {
    name: "request-verification",
    query: "scenario=verification",
    hash: "#/request/3fa2c1",
    ready: "#request[data-purpose=\"verification\"]",
  },
  {
    name: "request-reauthentication",
    query: "scenario=reauthentication",
    hash: "#/request/3fa2c1",
    ready: "#request[data-purpose=\"reauthentication\"]",
  },
  // Backchannel (CIBA) requests, started by the client's backend: no number
  // to pick, the client's binding message to check (and one without).
  {
    name: "request-backchannel",
    query: "scenario=backchannel",
    hash: "#/request/3fa2c1",
    ready: "#request[data-backchannel=\"true\"] #binding-message",
  },
  {
    name: "request-backchannel-no-message",
    query: "scenario=backchannel-plain",
    hash: "#/request/3fa2c1",
    ready: "#request[data-backchannel=\"true\"] #binding",
  },
  { name: "verify-email", query: "scenario=home", hash: "#/verify/email", ready: "#verify" },
  { name: "history", query: "scenario=home", hash: "#/history", ready: "#history" },
  { name: "settings", query: "scenario=home", hash: "#/settings", ready: "#settings" },
  // "Sign out everywhere": the confirmation, and the dialog saying why it did not work.
  { name: "settings-signout-confirm", query: "scenario=home&do=click:%23signout-everywhere", hash: "#/settings", ready: "#signout-dialog[open]" },
  {
    name: "settings-signout-failed",
    query: "scenario=home&signout=fail&do=click:%23signout-everywhere;click:%23signout-confirm",
    hash: "#/settings",
    ready: "#signout-dialog .dialog-error:not(:empty)",
  },
  { name: "keyring-locked", query: "scenario=locked", hash: "", ready: "#fatal-error" },
];
const THEMES = ["light", "dark"];
// The number the mock's sign-in page "shows" for request 3fa2c1.
const RIGHT_NUMBER = "64";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript",
  ".css": "text/css",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
};

function serve(root) {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    let file = normalize(join(root, path === "/" ? "index.html" : path));
    if (!file.startsWith(normalize(root))) {
      res.writeHead(403).end();
      return;
    }
    try {
      if (statSync(file).isDirectory()) file = join(file, "index.html");
      res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
      res.end(readFileSync(file));
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

async function audit(page, url, screen, theme) {
  await page.emulateMedia({ colorScheme: theme, reducedMotion: "reduce" });
  await page.goto(url);
  await page.waitForSelector(screen.ready, { timeout: STEP_MS });
  // Fonts and the last transitions settle before contrast is measured.
  await page.evaluate(() => document.fonts.ready);
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(shots, `${screen.name}-${theme}.png`), fullPage: true });
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"] } }),
  );
  return {
    screen: screen.name,
    theme,
    passes: result.passes.length,
    violations: result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target.join(" "), summary: n.failureSummary })),
    })),
  };
}

/** What has the focus, as a short selector, and whether it shows a focus ring. */
function focused(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return { sel: "body", ring: false };
    const s = getComputedStyle(el);
    const ring = (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== "none";
    let sel = el.tagName.toLowerCase();
    if (el.id) sel += `#${el.id}`;
    for (const a of ["data-number", "data-claim"]) {
      const v = el.getAttribute(a) ?? el.closest(`[${a}]`)?.getAttribute(a);
      if (v) sel += `[${a}=${v}]`;
    }
    return { sel, ring, disabled: el.disabled === true };
  });
}

/** Tabs until `want(sel)` holds (at most 40 presses); the stops on the way. */
async function tabTo(page, want, stops) {
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press("Tab");
    const f = await focused(page);
    stops.push(f);
    if (want(f.sel)) return f;
  }
  throw new Error(`not reached with Tab: stops ${stops.map((s) => s.sel).join(" → ")}`);
}

async function keyboardWalk(page, base) {
  await page.emulateMedia({ colorScheme: "light", reducedMotion: "reduce" });
  await page.goto(`${base}/?scenario=home#/request/3fa2c1`);
  await page.waitForSelector("#request", { timeout: STEP_MS });
  const stops = [];
  const number = await tabTo(page, (s) => s.includes(`[data-number=${RIGHT_NUMBER}]`), stops);
  await page.keyboard.press("Space");
  await page.waitForSelector("#approve:not([disabled])", { timeout: STEP_MS });
  const approve = await tabTo(page, (s) => s.includes("#approve"), stops);
  await page.keyboard.press("Enter");
  await page.waitForSelector("#request-result", { timeout: STEP_MS });
  await page.screenshot({ path: join(shots, "keyboard-approved.png"), fullPage: true });
  const result = (await page.textContent("#request-result"))?.trim() ?? "";
  const noRing = stops.filter((s) => s.sel !== "body" && !s.ring).map((s) => s.sel);
  return { stops: stops.map((s) => s.sel), numberRing: number.ring, approveRing: approve.ring, noRing, result };
}

/** A backchannel request answered by keyboard: no number on the way, Approve enabled at once. */
async function backchannelWalk(page, base) {
  await page.emulateMedia({ colorScheme: "light", reducedMotion: "reduce" });
  await page.goto(`${base}/?scenario=backchannel#/request/3fa2c1`);
  await page.waitForSelector("#binding-message", { timeout: STEP_MS });
  const numbers = await page.locator("[data-number]").count();
  const message = (await page.textContent("#binding-message"))?.trim() ?? "";
  const hint = (await page.textContent("#approve-hint"))?.trim() ?? "";
  const stops = [];
  const approve = await tabTo(page, (s) => s.includes("#approve"), stops);
  await page.keyboard.press("Enter");
  await page.waitForSelector("#request-result", { timeout: STEP_MS });
  await page.screenshot({ path: join(shots, "keyboard-approved-backchannel.png"), fullPage: true });
  const result = (await page.textContent("#request-result"))?.trim() ?? "";
  const noRing = stops.filter((s) => s.sel !== "body" && !s.ring).map((s) => s.sel);
  return { stops: stops.map((s) => s.sel), numbers, message, hint, approveDisabled: approve.disabled, noRing, result };
}

let browser = null;
let server = null;
const deadline = setTimeout(() => {
  process.stderr.write("ui-audit.mjs: no result within 3 minutes\n");
  process.exit(1);
}, 180_000);

try {
  server = await serve(dist);
  const base = `http://127.0.0.1:${server.address().port}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  const page = await browser.newPage({ viewport: { width: 440, height: 720 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  const audits = [];
  for (const screen of SCREENS) {
    for (const theme of THEMES) {
      const url = `${base}/?${screen.query}${screen.hash}`;
      audits.push(await audit(page, url, screen, theme));
    }
  }
  const walk = await keyboardWalk(page, base);
  const backchannel = await backchannelWalk(page, base);
  const violations = audits.reduce((n, a) => n + a.violations.length, 0);
  const ok =
    violations === 0 &&
    errors.length === 0 &&
    walk.noRing.length === 0 &&
    /signed in/i.test(walk.result) &&
    backchannel.numbers === 0 &&
    backchannel.noRing.length === 0 &&
    /signed in/i.test(backchannel.result);
  process.stdout.write(`${JSON.stringify({ ok, violations, audits, walk, backchannel, errors }, null, 1)}\n`);
  process.exitCode = ok ? 0 : 1;
} catch (e) {
  process.stderr.write(`ui-audit.mjs: ${e?.stack ?? e}\n`);
  process.exitCode = 1;
} finally {
  clearTimeout(deadline);
  await browser?.close().catch(() => {});
  server?.close();
}

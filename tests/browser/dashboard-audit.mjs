// The owners' dashboard in Debian's Chromium (playwright-core), 360 px
// wide: signs in with a password, creates a client (its secret copied with
// the Copy button), hands the copied credentials to the test, which signs
// in with them through a real OIDC library, then opens the client's page
// (the sign-in counted), rotates the secret (the test checks the old one
// is refused) and deletes the client, and visits the account and
// admin screens; every screen is checked with axe-core (WCAG 2.x A and AA)
// in the light and the dark theme, with a screenshot of each. axe is
// evaluated through the DevTools protocol, so the pages keep their strict
// CSP, and any CSP violation is reported. Run by
// tests/tests/e2e/dashboard.rs.
//
//   node dashboard-audit.mjs <server url> <email> <password> <screenshot dir> <redirect uri>
//
// Line protocol on stdout: `CLIENT <client id> <secret from the clipboard>`,
// then it waits for `SIGNED-IN` on stdin; `ROTATED <new secret>`, then it
// waits for `CHECKED`; at the end `REPORT <json>` and
// `DONE`. Exits 1 on any violation or failed step, 2 on bad usage, 3 when
// stdin closes early.

import { mkdirSync } from "node:fs";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";
import { audit as auditScreen } from "./axe.mjs";

const CHROMIUM = "/usr/bin/chromium";
const STEP_MS = 15_000;

const [base, email, password, shots, redirect] = process.argv.slice(2);
if (!base || !email || !password || !shots || !redirect) {
  process.stderr.write(
    "usage: node dashboard-audit.mjs <server url> <email> <password> <screenshot dir> <redirect uri>\n",
  );
  process.exit(2);
}
const input = createInterface({ input: process.stdin });
const inputLines = input[Symbol.asyncIterator]();
async function nextLine() {
  const { value, done } = await inputLines.next();
  if (done) {
    process.stderr.write("dashboard-audit.mjs: stdin closed\n");
    process.exit(3);
  }
  return value.trim();
}
mkdirSync(shots, { recursive: true });

/** The screen as it is now, in both themes: screenshots and axe. */
const audit = (page, name, audits) => auditScreen(page, shots, name, audits);

async function goto(page, path, ready) {
  await page.goto(`${base}${path}`);
  await page.waitForSelector(ready, { timeout: STEP_MS });
}

let browser = null;
const deadline = setTimeout(() => {
  process.stderr.write("dashboard-audit.mjs: no result within 3 minutes\n");
  process.exit(1);
}, 180_000);

try {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  const context = await browser.newContext({ viewport: { width: 360, height: 740 } });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  // The not-found screen is a 404 on purpose: its load error is expected.
  let expect404 = false;
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    if (expect404 && /status of 404/.test(m.text())) return;
    errors.push(m.text());
  });
  const audits = [];

  await goto(page, "/dashboard", "form[action='/dashboard/sign-in']");
  await audit(page, "sign-in", audits);
  await page.fill("#email", email);
  await page.fill("#password", password);
  await page.click("form[action='/dashboard/sign-in'] button[type=submit]");
  await page.waitForURL(`${base}/dashboard/clients`, { timeout: STEP_MS });
  await audit(page, "clients-empty", audits);

  await page.click("a[href='/dashboard/clients/new']");
  await page.waitForSelector("#redirect_uris", { timeout: STEP_MS });
  await audit(page, "client-new", audits);
  await page.fill("#name", "Audit Shop");
  await page.fill("#redirect_uris", redirect);
  await page.click("form[action='/dashboard/clients'] button[type=submit]");
  await page.waitForSelector("#client-secret", { timeout: STEP_MS });
  const clientId = (await page.textContent("#client-id"))?.trim() ?? "";
  const secret = (await page.textContent("#client-secret"))?.trim() ?? "";
  await page.click("button[data-copy='client-secret']");
  await page.waitForFunction(() => document.getElementById("copy-status")?.textContent !== "", null, {
    timeout: STEP_MS,
  });
  const copyStatus = (await page.textContent("#copy-status"))?.trim() ?? "";
  const clipboard = await page.evaluate(() => navigator.clipboard.readText()).catch((e) => `unreadable: ${e}`);
  await audit(page, "client-created", audits);
  // The test signs in to the new client with what was copied.
  process.stdout.write(`CLIENT ${clientId} ${clipboard}\n`);
  const answer = await nextLine();
  if (answer !== "SIGNED-IN") throw new Error(`expected SIGNED-IN, got ${answer}`);

  await page.click(`a[href='/dashboard/clients/${clientId}']`);
  await page.waitForSelector("#snippet", { timeout: STEP_MS });
  const snippet = (await page.textContent("#snippet")) ?? "";
  const usage = {
    summary: (await page.textContent("#usage-summary"))?.trim() ?? "",
    approvedBars: await page.locator("svg.dash-chart rect.dash-bar-approved").count(),
    recent: await page.locator("#events-title + .dash-scroll tbody tr").count(),
  };
  await audit(page, "client", audits);

  // Rotate the secret: the test checks the old one is refused, the new one not.
  await page.click(`form[action='/dashboard/clients/${clientId}/rotate'] button[type=submit]`);
  await page.waitForSelector("#client-secret", { timeout: STEP_MS });
  const rotated = (await page.textContent("#client-secret"))?.trim() ?? "";
  await audit(page, "client-rotated", audits);
  process.stdout.write(`ROTATED ${rotated}\n`);
  const checked = await nextLine();
  if (checked !== "CHECKED") throw new Error(`expected CHECKED, got ${checked}`);
  await page.click(`a[href='/dashboard/clients/${clientId}']`);
  await page.waitForSelector("#snippet", { timeout: STEP_MS });

  await page.click(`a[href='/dashboard/clients/${clientId}/delete']`);
  await page.waitForSelector("button.button-danger", { timeout: STEP_MS });
  await audit(page, "client-delete", audits);
  await page.click("button.button-danger");
  await page.waitForURL(`${base}/dashboard/clients?done=deleted`, { timeout: STEP_MS });
  await audit(page, "clients-after-delete", audits);

  await goto(page, "/dashboard/account", "form[action='/dashboard/account/password']");
  await audit(page, "account", audits);
  await goto(page, "/dashboard/admin/accounts", "table.dash-table");
  await audit(page, "admin-accounts", audits);
  // The confirmation of deleting an account (its own: not confirmed here).
  await page.click("a[href$='/delete']");
  await page.waitForSelector("button.button-danger", { timeout: STEP_MS });
  await audit(page, "admin-account-delete", audits);
  await goto(page, "/dashboard/admin/clients", "table.dash-table");
  await audit(page, "admin-clients", audits);
  await goto(page, "/dashboard/admin/events", "form.dash-filter");
  await audit(page, "admin-events", audits);
  await goto(page, "/dashboard/admin/status", "#version");
  await audit(page, "admin-status", audits);
  expect404 = true;
  await goto(page, "/dashboard/clients/no-such-client", ".message");
  await audit(page, "not-found", audits);

  const violations = audits.reduce((n, a) => n + a.violations.length, 0);
  const ok = violations === 0 && errors.length === 0 && clipboard === secret && secret !== "";
  const report = { ok, violations, audits, clientId, secret, copyStatus, clipboard, snippet, usage, errors };
  process.stdout.write(`REPORT ${JSON.stringify(report)}\n`);
  process.stdout.write("DONE\n");
  process.exitCode = ok ? 0 : 1;
} catch (e) {
  process.stderr.write(`dashboard-audit.mjs: ${e?.stack ?? e}\n`);
  process.exitCode = 1;
} finally {
  clearTimeout(deadline);
  input.close();
  await browser?.close().catch(() => {});
}

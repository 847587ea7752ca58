// "Sign in with Authentiq" to the owners' dashboard in Debian's Chromium
// (playwright-core), 360 px wide; the test (tests/tests/e2e/dashboard.rs)
// plays the owner's device. Signs in with the password, links an Authentiq
// ID from the account page (the provider's sign-in page, "Send to my
// device", the device approves with the number), opens the unlink
// confirmation, signs out and signs in again with Authentiq, unlinks the
// ID, signs out and tries Authentiq once more (refused: no account has the
// ID). Each new screen is checked with axe-core (WCAG 2.x A and AA) in the
// light and the dark theme, with screenshots.
//
//   node dashboard-authentiq.mjs <server url> <email> <password> <screenshot dir>
//
// Line protocol on stdout: for each of the three sign-ins with the device
// `NUMBER <n>` and `PUSHED` (tests/browser/common.mjs); `LINKED <id>` once
// the account page shows the linked ID; `SIGNED-IN` once Authentiq signed
// the owner in; at the end `REPORT <json>` and `DONE`.

import { audit as auditScreen } from "./axe.mjs";
import { expect, launch, newPage, run, say, setStep, STEP_MS } from "./common.mjs";

const [base, email, password, shots] = process.argv.slice(2);
if (!base || !email || !password || !shots) {
  process.stderr.write("usage: node dashboard-authentiq.mjs <server url> <email> <password> <screenshot dir>\n");
  process.exit(2);
}

const audits = [];
const audit = (page, name) => auditScreen(page, shots, name, audits);

/** On the provider's sign-in page: "Send to my device"; the test's device approves. */
async function approveOnDevice(page, { auditAs } = {}) {
  setStep("the provider's sign-in page");
  await page.waitForURL(/\/sign-in\/[^/?#]+$/);
  const heading = (await page.locator("#aq-heading").innerText()).trim();
  expect(heading.includes("Authentiq Dashboard"), `the sign-in page is for ${JSON.stringify(heading)}`);
  const number = (await page.locator("#aq-number").innerText()).trim();
  expect(/^\d{1,3}$/.test(number), `the number is not a number: ${JSON.stringify(number)}`);
  if (auditAs) {
    await audit(page, auditAs);
  }
  say(`NUMBER ${number}`);
  setStep("send to my device");
  await page.locator("#aq-email").fill(email);
  await page.getByRole("button", { name: "Send to my device" }).click();
  await page.locator("#aq-status-title").filter({ hasText: "We sent the request to your device." }).waitFor();
  say("PUSHED");
}

async function signOut(page) {
  setStep("sign out");
  await page.click("form.dash-signout button[type=submit]");
  await page.waitForURL(`${base}/dashboard`);
}

async function main() {
  const browser = await launch();
  const context = await browser.newContext({ viewport: { width: 360, height: 740 } });
  const page = await newPage(context);
  const errors = [];
  // The last refusal is a 403 page on purpose: its load error is expected.
  let expect403 = false;
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    if (expect403 && /status of 403/.test(m.text())) return;
    errors.push(m.text());
  });

  setStep("password sign-in");
  await page.goto(`${base}/dashboard`);
  await page.fill("#email", email);
  await page.fill("#password", password);
  await page.click("form[action='/dashboard/sign-in'] button[type=submit]");
  await page.waitForURL(`${base}/dashboard/clients`);

  setStep("link an Authentiq ID");
  await page.goto(`${base}/dashboard/account`);
  await page.click("form[action='/dashboard/account/authentiq'] button[type=submit]");
  await approveOnDevice(page, { auditAs: "authentiq-sign-in" });
  await page.waitForURL(`${base}/dashboard/account?done=linked`);
  const linked = (await page.locator("#linked-id").innerText()).trim();
  expect(linked.length === 43, `the account page shows ${JSON.stringify(linked)} as the linked ID`);
  say(`LINKED ${linked}`);
  await audit(page, "account-linked");

  setStep("the unlink confirmation");
  await page.click("a[href='/dashboard/account/authentiq/unlink']");
  await page.waitForSelector("button.button-danger", { timeout: STEP_MS });
  await audit(page, "account-unlink");

  await signOut(page);
  setStep("sign in with Authentiq");
  await page.click("#sign-in-authentiq");
  await approveOnDevice(page);
  await page.waitForURL(`${base}/dashboard/clients`);
  const me = (await page.locator(".dash-me").innerText()).trim();
  expect(me.includes(email), `signed in as ${JSON.stringify(me)}`);
  say("SIGNED-IN");
  await audit(page, "clients-with-authentiq");

  setStep("unlink");
  await page.goto(`${base}/dashboard/account/authentiq/unlink`);
  await page.click("button.button-danger");
  await page.waitForURL(`${base}/dashboard/account?done=unlinked`);
  expect((await page.locator("#linked-id").count()) === 0, "the ID is still shown after unlinking");
  await audit(page, "account-unlinked");

  await signOut(page);
  setStep("sign in with an unlinked ID");
  expect403 = true;
  await page.click("#sign-in-authentiq");
  await approveOnDevice(page);
  await page.waitForURL(/\/dashboard\/authentiq\/callback\?/);
  const refusal = (await page.locator("p.dash-error").innerText()).trim();
  expect(
    refusal.includes("No account of this dashboard is linked to this Authentiq ID"),
    `the refusal says ${JSON.stringify(refusal)}`,
  );
  await audit(page, "sign-in-unlinked");

  const violations = audits.reduce((n, a) => n + a.violations.length, 0);
  say(`REPORT ${JSON.stringify({ violations, audits, linked, errors })}`);
  say("DONE");
}

run("dashboard-authentiq.mjs", 150_000, main);

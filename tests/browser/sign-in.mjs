// Drives Debian's Chromium (headless, through playwright-core) through the
// sign-in page, from the demo relying party and back to it. Run by
// tests/tests/e2e/browser.rs, which plays the device.
//
//   node sign-in.mjs <start-url> <screenshot-dir> <approve|deny> <email>
//
// Line protocol, one line per step on stdout:
//   NUMBER <n>   the sign-in page shows the QR code and the number <n>
//                (screenshot taken)
//   PUSHED       "Send to my device" was submitted for <email> and the page
//                says so: the device may answer now
//   DENIED       (deny only) the page shows the denial (screenshot taken)
//   DONE         the demo's /demo/callback shows what it should (screenshot
//                taken); the script then exits 0
// On any failed expectation: "sign-in.mjs: <step>: <why>" on stderr and exit
// status 1. The script also gives up when its standard input closes (the
// parent went away; exit 3) and after an overall deadline (exit 1).

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";
const STEP_MS = 20_000;
const OVERALL_MS = 120_000;

const [url, shots, mode, email] = process.argv.slice(2);
if (!url || !shots || !["approve", "deny"].includes(mode) || !email) {
  process.stderr.write("usage: node sign-in.mjs <start-url> <screenshot-dir> <approve|deny> <email>\n");
  process.exit(2);
}

let browser = null;
let step = "start";

function say(line) {
  process.stdout.write(`${line}\n`);
}

let finishing = false;

async function finish(code, message) {
  // The first reason counts: closing the browser makes pending steps fail too.
  if (finishing) {
    return;
  }
  finishing = true;
  if (message) {
    process.stderr.write(`sign-in.mjs: ${step}: ${message}\n`);
  }
  const b = browser;
  browser = null;
  if (b) {
    // Closing can hang when the browser is wedged: do not wait for ever.
    await Promise.race([b.close().catch(() => {}), new Promise((r) => setTimeout(r, 5_000))]);
  }
  process.exit(code);
}

function expect(ok, message) {
  if (!ok) {
    throw new Error(message);
  }
}

const deadline = setTimeout(() => {
  finish(1, `not finished after ${OVERALL_MS / 1000} s`);
}, OVERALL_MS);
deadline.unref();

// The parent closes our standard input (or dies): stop, browser included.
process.stdin.on("end", () => finish(3, "standard input closed: giving up"));
process.stdin.on("error", () => finish(3, "standard input failed: giving up"));
process.stdin.resume();

async function screenshot(page, name) {
  await page.screenshot({ path: join(shots, name), fullPage: true, timeout: STEP_MS });
}

async function main() {
  mkdirSync(shots, { recursive: true });

  step = "launch";
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    timeout: STEP_MS,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  page.setDefaultNavigationTimeout(STEP_MS);

  // Script errors and console errors (CSP violations among them) fail the
  // run. Except one: the demo's pages link no icon, so Chromium asks for
  // /favicon.ico, which is a 404.
  const problems = [];
  page.on("pageerror", (e) => problems.push(`uncaught in the page: ${e.message}`));
  page.on("console", (m) => {
    const where = m.location().url || page.url();
    if (m.type() === "error" && new URL(where).pathname !== "/favicon.ico") {
      problems.push(`console error at ${where}: ${m.text()}`);
    }
  });
  const noProblems = () => expect(problems.length === 0, problems.join("; "));

  // After a denial the page waits 2.5 s, then goes on to the client by
  // itself. Hold that request until the denial is on the screenshot, so a
  // slow machine cannot make the screenshot miss it.
  let deniedAt = 0;
  let continuedAfter = -1;
  let releaseContinue = () => {};
  const denialShot = new Promise((resolve) => {
    releaseContinue = resolve;
  });
  if (mode === "deny") {
    await page.route(/\/sign-in\/[^/]+\/continue$/, async (route) => {
      continuedAfter = deniedAt ? Date.now() - deniedAt : -1;
      await denialShot;
      await route.continue();
    });
  }

  // 1. The demo's "Sign in with Authentiq" → /authorize → the sign-in page.
  step = "open the sign-in page";
  await page.goto(url, { waitUntil: "load" });
  await page.waitForURL(/\/sign-in\/[^/?#]+$/);
  const root = page.locator("#aq-sign-in");
  await root.waitFor({ state: "visible" });
  expect((await root.getAttribute("data-state")) === "pending", "the page is not pending");
  const title = await page.title();
  expect(title.includes("Authentiq Demo"), `the title does not name the client: ${JSON.stringify(title)}`);
  const heading = (await page.locator("#aq-heading").innerText()).trim();
  expect(heading.includes("Authentiq Demo"), `the heading does not name the client: ${JSON.stringify(heading)}`);
  const claims = await page.locator(".claim-list .claim-label").allInnerTexts();
  expect(claims.length > 0, "no requested claims are listed");
  const qr = page.locator("figure.qr svg").first();
  await qr.waitFor({ state: "visible" });
  const box = await qr.boundingBox();
  expect(box && box.width >= 100 && box.height >= 100, `the QR code is too small: ${JSON.stringify(box)}`);
  const numberEl = page.locator("#aq-number");
  await numberEl.waitFor({ state: "visible" });
  const number = (await numberEl.innerText()).trim();
  expect(/^\d{1,3}$/.test(number), `the number is not a number: ${JSON.stringify(number)}`);
  noProblems();
  await screenshot(page, mode === "approve" ? "sign-in.png" : "sign-in-deny.png");
  say(`NUMBER ${number}`);

  // 2. "Send to my device".
  step = "send to my device";
  await page.locator("#aq-email").fill(email);
  const posted = page.waitForResponse(
    (r) => r.request().method() === "POST" && /\/sign-in\/[^/]+\/push$/.test(new URL(r.url()).pathname),
  );
  await page.getByRole("button", { name: "Send to my device" }).click();
  const res = await posted;
  expect(res.status() === 200, `POST ${res.url()} answered ${res.status()}`);
  await page.waitForLoadState("load");
  const sent = page.locator("#aq-status-title");
  await sent.filter({ hasText: "We sent the request to your device." }).waitFor({ state: "visible" });
  const numberAfter = (await page.locator("#aq-number").innerText()).trim();
  expect(numberAfter === number, `the number changed after the push: ${number} → ${numberAfter}`);
  noProblems();
  if (mode === "approve") {
    await screenshot(page, "pushed.png");
  }
  say("PUSHED");

  if (mode === "approve") {
    // 3. The device approves: the page goes on to the client by itself.
    step = "approved: back to the demo";
    await page.waitForURL(/\/demo\/callback\?/);
    await page.waitForLoadState("load");
    const error = page.locator("p.error");
    if (await error.count()) {
      throw new Error(`the demo shows an error: ${await error.innerText()}`);
    }
    const table = page.locator("table.result");
    await table.waitFor({ state: "visible" });
    const rows = {};
    for (const tr of await table.locator("tr").all()) {
      rows[(await tr.locator("th").innerText()).trim()] = (await tr.locator("td").innerText()).trim();
    }
    expect(rows.email === email, `the demo's email claim is ${JSON.stringify(rows.email)}, not ${email}`);
    expect(rows.email_verified === "true", `email_verified is ${JSON.stringify(rows.email_verified)}`);
    expect(rows.name === "Test User", `the demo's name claim is ${JSON.stringify(rows.name)}`);
    expect(typeof rows.sub === "string" && rows.sub.length > 0, "the demo shows no sub");
    noProblems();
    await screenshot(page, "approved-claims.png");
  } else {
    // 3. The device denies: the page says so, then goes on to the client.
    step = "denied: the page shows the denial";
    await page.locator('#aq-sign-in[data-state="denied"]').waitFor({ state: "attached" });
    deniedAt = Date.now();
    const statusTitle = (await page.locator("#aq-status-title").innerText()).trim();
    const statusText = (await page.locator("#aq-status-text").innerText()).trim();
    expect(statusTitle === "Sign-in was denied", `the status title is ${JSON.stringify(statusTitle)}`);
    expect(
      statusText.includes("denied on your device"),
      `the status text is ${JSON.stringify(statusText)}`,
    );
    expect(!(await page.locator("#aq-number").isVisible()), "the number is still shown after the denial");
    expect(!(await page.locator("figure.qr").isVisible()), "the QR code is still shown after the denial");
    await screenshot(page, "denied.png");
    expect(/\/sign-in\//.test(page.url()), `the page left the sign-in page before the screenshot: ${page.url()}`);
    noProblems();
    say("DENIED");

    step = "denied: back to the demo";
    releaseContinue();
    await page.waitForURL(/\/demo\/callback\?/);
    // It waited (2.5 s) before going on; measured from when the denial was
    // seen here, a little after it was shown.
    expect(continuedAfter >= 1000, `the page went on ${continuedAfter} ms after showing the denial`);
    await page.waitForLoadState("load");
    const cb = new URL(page.url());
    expect(cb.searchParams.get("error") === "access_denied", `the client got ${cb.search}, not access_denied`);
    const error = page.locator('p.error[role="alert"]');
    await error.waitFor({ state: "visible" });
    const text = (await error.innerText()).trim();
    expect(text === "You denied the sign-in.", `the demo says ${JSON.stringify(text)}`);
    expect((await page.locator("table.result").count()) === 0, "the demo shows claims after a denial");
    noProblems();
    await screenshot(page, "denied-client.png");
  }
  say("DONE");
}

main().then(
  () => finish(0),
  (e) => finish(1, (e && e.message ? e.message : String(e)).slice(0, 4000)),
);

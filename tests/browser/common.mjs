// What the scripts that drive Debian's Chromium (headless, through
// playwright-core) for the end-to-end tests share: the run itself (a line
// protocol on stdout, a step name for failures, an overall deadline, giving
// up when the parent closes our stdin), the browser, and the sign-in page
// up to "Send to my device". The Rust side is
// tests/tests/e2e/support/chromium.rs.
//
// On any failed expectation a script writes "<script>: <step>: <why>" on
// stderr and exits 1; when its standard input closes (the parent went away)
// it exits 3; after its overall deadline, 1.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";
/** The longest any one step (a navigation, a wait for an element) may take. */
export const STEP_MS = 20_000;

let name = "script";
let browser = null;
let step = "start";
let finishing = false;

/** Names the step that is running, for the failure message. */
export function setStep(s) {
  step = s;
}

/** One line of the protocol. */
export function say(line) {
  process.stdout.write(`${line}\n`);
}

export function expect(ok, message) {
  if (!ok) {
    throw new Error(message);
  }
}

async function finish(code, message) {
  // The first reason counts: closing the browser makes pending steps fail too.
  if (finishing) {
    return;
  }
  finishing = true;
  if (message) {
    process.stderr.write(`${name}: ${step}: ${message}\n`);
  }
  const b = browser;
  browser = null;
  if (b) {
    // Closing can hang when the browser is wedged: do not wait for ever.
    await Promise.race([b.close().catch(() => {}), new Promise((r) => setTimeout(r, 5_000))]);
  }
  process.exit(code);
}

/**
 * Runs `main` as script `scriptName`: exit 0 when it resolves, 1 when it
 * throws or takes longer than `overallMs`, 3 when stdin closes first.
 */
export function run(scriptName, overallMs, main) {
  name = scriptName;
  const deadline = setTimeout(() => {
    finish(1, `not finished after ${overallMs / 1000} s`);
  }, overallMs);
  deadline.unref();
  // The parent closes our standard input (or dies): stop, browser included.
  process.stdin.on("end", () => finish(3, "standard input closed: giving up"));
  process.stdin.on("error", () => finish(3, "standard input failed: giving up"));
  process.stdin.resume();
  main().then(
    () => finish(0),
    (e) => finish(1, (e && e.message ? e.message : String(e)).slice(0, 4000)),
  );
}

/** Chromium, headless (playwright's default), fit to run as root. */
export async function launch() {
  setStep("launch");
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
  return browser;
}

/** A new tab in `context`, with the step timeouts. */
export async function newPage(context) {
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  page.setDefaultNavigationTimeout(STEP_MS);
  return page;
}

export async function screenshot(page, dir, file) {
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, file), fullPage: true, timeout: STEP_MS });
}

/**
 * Collects the page's uncaught script errors and console errors (CSP
 * violations among them), but those `ignore(message)` accepts; `check()`
 * throws if there are any.
 */
export function watchProblems(page, ignore = () => false) {
  const problems = [];
  page.on("pageerror", (e) => problems.push(`uncaught in the page: ${e.message}`));
  page.on("console", (m) => {
    const where = m.location().url || page.url();
    if (m.type() === "error" && !ignore(m, where)) {
      problems.push(`console error at ${where}: ${m.text()}`);
    }
  });
  return {
    problems,
    check: () => expect(problems.length === 0, problems.join("; ")),
  };
}

/** A console error for the favicon a page without an icon makes Chromium ask for (a 404). */
export function isFavicon(_message, where) {
  return new URL(where).pathname === "/favicon.ico";
}

/**
 * From `url` (anything that ends on the sign-in page, e.g. /authorize) to
 * "Send to my device" submitted for `email`: checks that the page names
 * `clientName`, shows a QR code and a number; takes screenshot `shots.signIn`
 * (then says `NUMBER <n>`) and, after the push, `shots.pushed` if given
 * (then says `PUSHED`: the device may answer now). Returns the number.
 */
export async function signInUntilPushed(page, { url, clientName, email, dir, shots, problems }) {
  // 1. The sign-in page.
  setStep("open the sign-in page");
  await page.goto(url, { waitUntil: "load" });
  await page.waitForURL(/\/sign-in\/[^/?#]+$/);
  const root = page.locator("#aq-sign-in");
  await root.waitFor({ state: "visible" });
  expect((await root.getAttribute("data-state")) === "pending", "the page is not pending");
  const title = await page.title();
  expect(title.includes(clientName), `the title does not name the client: ${JSON.stringify(title)}`);
  const heading = (await page.locator("#aq-heading").innerText()).trim();
  expect(heading.includes(clientName), `the heading does not name the client: ${JSON.stringify(heading)}`);
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
  problems.check();
  await screenshot(page, dir, shots.signIn);
  say(`NUMBER ${number}`);

  // 2. "Send to my device".
  setStep("send to my device");
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
  problems.check();
  if (shots.pushed) {
    await screenshot(page, dir, shots.pushed);
  }
  say("PUSHED");
  return number;
}

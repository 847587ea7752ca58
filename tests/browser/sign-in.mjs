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

import {
  expect,
  isFavicon,
  launch,
  newPage,
  run,
  say,
  screenshot as shoot,
  setStep,
  signInUntilPushed,
  watchProblems,
} from "./common.mjs";

const OVERALL_MS = 120_000;

const [url, shots, mode, email] = process.argv.slice(2);
if (!url || !shots || !["approve", "deny"].includes(mode) || !email) {
  process.stderr.write("usage: node sign-in.mjs <start-url> <screenshot-dir> <approve|deny> <email>\n");
  process.exit(2);
}

const screenshot = (page, name) => shoot(page, shots, name);

async function main() {
  const browser = await launch();
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await newPage(context);

  // Script errors and console errors (CSP violations among them) fail the
  // run. Except one: the demo's pages link no icon, so Chromium asks for
  // /favicon.ico, which is a 404.
  const problems = watchProblems(page, isFavicon);
  const noProblems = problems.check;

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

  // 1. The demo's "Sign in with Authentiq" → /authorize → the sign-in page;
  // 2. "Send to my device".
  await signInUntilPushed(page, {
    url,
    clientName: "Authentiq Demo",
    email,
    dir: shots,
    shots: mode === "approve"
      ? { signIn: "sign-in.png", pushed: "pushed.png" }
      : { signIn: "sign-in-deny.png" },
    problems,
  });

  if (mode === "approve") {
    // 3. The device approves: the page goes on to the client by itself.
    setStep("approved: back to the demo");
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
    setStep("denied: the page shows the denial");
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

    setStep("denied: back to the demo");
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

run("sign-in.mjs", OVERALL_MS, main);

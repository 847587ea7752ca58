// The session iframe of OpenID Connect Session Management 1.0 in Debian's
// Chromium (headless, through playwright-core): a relying party's page
// (session-rp.html) frames the provider's iframe and polls it; it answers
// "unchanged" while the user is signed in and "changed" once they signed
// out in another tab. Run by tests/tests/e2e/session_iframe.rs, which plays
// the device, serves the relying party's pages and checks what this script
// reports.
//
//   node session-iframe.mjs <config JSON>
//
// The config: {authorize, op, shots, email, clientName, clientId, rp,
// other: {origin, clientId}, stranger}: the /authorize URL to start at, the
// provider's origin, the screenshot directory, the email the device has,
// the client (whose redirect URI is <rp>/cb), another client's origin and
// an origin no client has.
//
// Line protocol, one line per step on stdout (<json> is one line of JSON):
//   NUMBER <n>, PUSHED   the sign-in page, as in common.mjs: the device may
//                        answer once PUSHED is said
//   BACK <url>           the browser is back at <rp>/cb with this query
//   COOKIES <json>       the provider's cookies in the browser then:
//                        [{name, value, httpOnly, sameSite, path}], values
//                        but aq_bs's left out
//   BEFORE <json>        {probe: [answer, ...]}: the first answers of the
//                        /cb page's two frames (check-session, client-iframe)
//   PROBE <name> <json>  one probe of another page: {origin, src, msg,
//                        framed: "loaded"|"refused", answers, refusal}
//                        (refusal: the console's report, or null)
//   LOGGED-OUT <json>    "Sign out" was clicked in a second tab and it shows
//                        "Signed out"; the provider's cookie names then
//   AFTER <json>         {probe: [answer, ...]}: the answers of the /cb
//                        page's frames to messages posted after that
//   DONE                 the script then exits 0
// On any failed expectation: "session-iframe.mjs: <step>: <why>" on stderr
// and exit status 1 (see common.mjs for the rest).

import {
  STEP_MS,
  expect,
  launch,
  newPage,
  run,
  say,
  screenshot as shoot,
  setStep,
  signInUntilPushed,
  watchProblems,
} from "./common.mjs";

const OVERALL_MS = 150_000;
/** Answers to wait for from each frame, before and after the logout. */
const ANSWERS = 3;
/** What Chromium's frame shows when it refused to load a page into it. */
const REFUSED_URL = "chrome-error://chromewebdata/";

const cfg = JSON.parse(process.argv[2] || "null");
if (!cfg || !cfg.authorize || !cfg.shots || !cfg.rp || !cfg.other || !cfg.stranger) {
  process.stderr.write("usage: node session-iframe.mjs <config JSON> (see the script)\n");
  process.exit(2);
}
const screenshot = (page, name) => shoot(page, cfg.shots, name);
const json = (v) => JSON.stringify(v);

/** The recorded answers of the RP page's probes (`window.rp`). */
const state = (page) => page.evaluate(() => window.rp);

/**
 * Until each of `names` on the RP page has `count` answers to messages
 * posted at or after `since` (the page's clock); their answers.
 */
async function answers(page, names, count, since, what) {
  try {
    await page.waitForFunction(
      ([names, count, since]) =>
        window.rp && names.every((n) => window.rp[n] && window.rp[n].answers.filter((a) => a.sent >= since).length >= count),
      [names, count, since],
      { polling: 100, timeout: STEP_MS },
    );
  } catch (e) {
    const now = await state(page).catch(() => null);
    throw new Error(`${what}: not ${count} answers from ${names.join(", ")} within ${STEP_MS / 1000} s: ${json(now)} (${e.message.split("\n")[0]})`);
  }
  const rp = await state(page);
  return Object.fromEntries(names.map((n) => [n, rp[n].answers.filter((a) => a.sent >= since).map((a) => a.answer)]));
}

/** The provider's cookies in `context`. */
async function opCookies(context) {
  return (await context.cookies(cfg.op)).map((c) => ({
    name: c.name,
    ...(c.name === "aq_bs" ? { value: c.value } : {}),
    httpOnly: c.httpOnly,
    sameSite: c.sameSite,
    path: c.path,
  }));
}

/**
 * Opens `<origin>/probe` in a new tab of `context` with `probes`, waits
 * until each frame either answered twice or was refused, says a PROBE line
 * for each, takes screenshot `shot` and closes the tab.
 */
async function probe(context, origin, probes, shot) {
  setStep(`probes at ${origin}`);
  const page = await newPage(context);
  // Refused frames are the point here: Chromium reports each on the
  // console ("Framing '…' violates … frame-ancestors …"). Anything else on
  // the console fails the run.
  // And posting to a refused frame, which holds Chromium's error page (an
  // opaque origin), is refused too: "Failed to execute 'postMessage' on
  // 'DOMWindow': The target origin provided (…) does not match the recipient
  // window's origin ('null')."
  const refusals = [];
  const problems = watchProblems(page, (m) => {
    if (/violates the following Content Security Policy directive: "frame-ancestors /.test(m.text())) {
      refusals.push(m.text());
      return true;
    }
    return /^Failed to execute 'postMessage' on 'DOMWindow': .* recipient window's origin \('null'\)/.test(m.text());
  });
  // Failed requests, by URL (where a frame is to be refused, no two
  // probes of the page frame the same URL).
  const failed = new Map();
  page.on("requestfailed", (r) => {
    failed.set(r.url(), r.failure() ? r.failure().errorText : "failed");
  });
  const url = `${origin}/probe?${new URLSearchParams({ probes: json(probes) })}`;
  await page.goto(url, { waitUntil: "load" });
  for (const p of probes) {
    setStep(`probe ${p.name} at ${origin}`);
    const frame = page.frame({ name: p.name });
    expect(frame, `no frame ${p.name}`);
    // Settled: refused (the frame shows Chromium's error page, its request
    // was blocked, the console said why), or loaded from the provider and
    // answered twice.
    const until = Date.now() + STEP_MS;
    let rec = null;
    let refused = false;
    for (;;) {
      rec = (await state(page))[p.name];
      refused = frame.url() === REFUSED_URL && failed.has(p.src) && refusals.length > 0;
      if (refused || (rec.loaded && rec.answers.filter((a) => a.answer !== "timeout").length >= 2)) {
        break;
      }
      expect(Date.now() < until, `neither refused nor answered twice within ${STEP_MS / 1000} s: frame at ${frame.url()}, request ${failed.get(p.src) || "not failed"}, ${json(rec)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    if (refused) {
      expect(failed.get(p.src) === "net::ERR_BLOCKED_BY_RESPONSE", `the frame was refused, but its request: ${failed.get(p.src)}`);
    } else {
      expect(frame.url() === p.src, `the frame is at ${frame.url()}, not ${p.src}`);
    }
    expect(rec.stray.length === 0, `answers not to a pending message or from elsewhere: ${json(rec.stray)}`);
    const refusal = refused ? refusals : null;
    say(`PROBE ${p.name} ${json({ origin, src: p.src, msg: p.msg, framed: refused ? "refused" : "loaded", answers: rec.answers.map((a) => a.answer), refusal })}`);
  }
  problems.check();
  await screenshot(page, shot);
  await page.close();
}

async function main() {
  const browser = await launch();
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const rpPage = await newPage(context);
  const problems = watchProblems(rpPage);

  // 1. /authorize → the sign-in page → "Send to my device"; the device
  // approves and the page goes on to the client's redirect URI.
  await signInUntilPushed(rpPage, {
    url: cfg.authorize,
    clientName: cfg.clientName,
    email: cfg.email,
    dir: cfg.shots,
    shots: { signIn: "session-sign-in.png" },
    problems,
  });
  setStep("approved: back to the relying party");
  await rpPage.waitForURL((u) => u.origin === cfg.rp && u.pathname === "/cb");
  await rpPage.waitForLoadState("load");
  const back = new URL(rpPage.url());
  say(`BACK ${back}`);
  say(`COOKIES ${json(await opCookies(context))}`);
  const sessionState = back.searchParams.get("session_state");
  expect(sessionState && sessionState.includes("."), `no session_state of the form <hash>.<salt>: ${back.search}`);

  // 2. The RP page's frames answer "unchanged".
  setStep("signed in: the RP page polls");
  const main = ["check-session", "client-iframe"];
  const before = await answers(rpPage, main, ANSWERS, 0, "signed in");
  for (const n of main) {
    const f = rpPage.frame({ name: n });
    expect(f && f.url().startsWith(`${cfg.op}/`), `frame ${n} is at ${f && f.url()}, not the provider`);
  }
  problems.check();
  await screenshot(rpPage, "session-unchanged.png");
  say(`BEFORE ${json(before)}`);

  // 3. While signed in: wrong session states at the client's origin, and the
  // iframes framed by other origins.
  const [hash, salt] = [sessionState.slice(0, sessionState.lastIndexOf(".")), sessionState.slice(sessionState.lastIndexOf(".") + 1)];
  const flipped = (hash[0] === "A" ? "B" : "A") + hash.slice(1);
  const op = cfg.op;
  const id = cfg.clientId;
  const otherId = cfg.other.clientId;
  await probe(context, cfg.rp, [
    { name: "again", src: `${op}/${id}/iframe`, msg: `${id} ${sessionState}` },
    { name: "garbled-hash", src: `${op}/${id}/iframe`, msg: `${id} ${flipped}.${salt}` },
    { name: "other-salt", src: `${op}/check-session`, msg: `${id} ${hash}.${salt}x` },
    { name: "no-salt", src: `${op}/check-session`, msg: `${id} ${hash}` },
    { name: "garbage", src: `${op}/check-session`, msg: "garbage" },
    { name: "wrong-client", src: `${op}/${id}/iframe`, msg: `${otherId} ${sessionState}` },
  ], "session-probes-rp.png");
  await probe(context, cfg.other.origin, [
    { name: "client-iframe-from-other", src: `${op}/${id}/iframe`, msg: `${id} ${sessionState}` },
    { name: "check-session-from-other", src: `${op}/check-session`, msg: `${id} ${sessionState}` },
    { name: "other-iframe-from-other", src: `${op}/${otherId}/iframe`, msg: `${otherId} ${sessionState}` },
  ], "session-probes-other.png");
  await probe(context, cfg.stranger, [
    { name: "check-session-from-stranger", src: `${op}/check-session`, msg: `${id} ${sessionState}` },
    { name: "client-iframe-from-stranger", src: `${op}/${id}/iframe`, msg: `${id} ${sessionState}` },
  ], "session-probes-stranger.png");

  // 4. Sign out in a second tab: the provider's logout, confirmed.
  setStep("logout in a second tab");
  const logout = await newPage(context);
  const logoutProblems = watchProblems(logout);
  await logout.goto(`${op}/logout`, { waitUntil: "load" });
  const button = logout.getByRole("button", { name: "Sign out" });
  await button.waitFor({ state: "visible" });
  await screenshot(logout, "session-logout.png");
  logoutProblems.check();
  await button.click();
  await logout.getByRole("heading", { name: "Signed out" }).waitFor({ state: "visible" });
  // From here on the cookies are gone (the response that said "Signed out"
  // cleared them): every message posted from now on must be "changed".
  const since = await rpPage.evaluate(() => Date.now());
  logoutProblems.check();
  await screenshot(logout, "session-signed-out.png");
  say(`LOGGED-OUT ${json((await opCookies(context)).map((c) => c.name))}`);

  // 5. The RP tab's frames answer "changed".
  setStep("signed out: the RP page polls");
  const after = await answers(rpPage, main, ANSWERS, since, "signed out");
  await rpPage.bringToFront();
  await screenshot(rpPage, "session-changed.png");
  problems.check();
  say(`AFTER ${json(after)}`);
  say("DONE");
}

run("session-iframe.mjs", OVERALL_MS, main);

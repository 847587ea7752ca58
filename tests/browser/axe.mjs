// axe-core (WCAG 2.x A and AA) on a page as it is, in the light and the
// dark theme, with a full-page screenshot of each: for the dashboard's
// browser scripts. axe is evaluated through the DevTools protocol
// (page.evaluate), so the page keeps its strict CSP.

import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const THEMES = ["light", "dark"];
const TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];

/** Screenshots `<shots>/<name>-<theme>.png` and pushes one result per theme to `audits`. */
export async function audit(page, shots, name, audits) {
  mkdirSync(shots, { recursive: true });
  for (const theme of THEMES) {
    await page.emulateMedia({ colorScheme: theme, reducedMotion: "reduce" });
    await page.waitForTimeout(150);
    await page.screenshot({ path: join(shots, `${name}-${theme}.png`), fullPage: true });
    await page.evaluate(AXE_SOURCE);
    const result = await page.evaluate(
      // eslint-disable-next-line no-undef
      (values) => axe.run(document, { runOnly: { type: "tag", values } }),
      TAGS,
    );
    audits.push({
      screen: name,
      theme,
      passes: result.passes.length,
      violations: result.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.map((n) => ({ target: n.target.join(" "), summary: n.failureSummary })),
      })),
    });
  }
}

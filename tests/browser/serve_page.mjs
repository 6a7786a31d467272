// serve_page.mjs - the web page of `astrotrain serve` in a real browser: Debian's chromium,
// headless, driven by playwright-core. Fills the rf model's form with one row and submits it,
// pastes CSV rows, uploads an image to the cnn model and draws a random example, checking each
// shown class against the class the JSON API gives for the same input; saves a screenshot.
// usage: node serve_page.mjs URL ROW_JSON IMAGE_PATH EXPECT_ROW_CLASS EXPECT_IMAGE_CLASS SCREENSHOT
import { chromium } from "playwright-core";

const [url, rowJson, imagePath, wantRow, wantImage, shot] = process.argv.slice(2);
const row = JSON.parse(rowJson);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu"] });
let failed = 0;
const check = (name, cond, got) => { console.log((cond ? "ok   " : "FAIL ") + name + (cond ? "" : ": got " + got)); if (!cond) failed++; };
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 1400 } });
  await page.goto(url);
  await page.waitForSelector("body[data-ready='1']", { timeout: 10000 });
  for (const [k, v] of Object.entries(row)) await page.fill(`#form-rf input[name='${k}']`, String(v));
  await page.click("#form-rf button[type=submit]");
  const cls = await page.waitForSelector("#result-rf .cls", { timeout: 10000 });
  const shown = await cls.getAttribute("data-class");
  check("form: the shown class is the API's", shown === wantRow, shown);
  const bars = await page.$$eval("#result-rf .bar", b => b.length);
  check("form: one probability bar per class", bars === 3, bars);
  const header = Object.keys(row).join(",");
  await page.fill("#csv-rf", header + "\n" + Object.values(row).join(",") + "\n" + Object.values(row).join(",") + "\n");
  await page.click("#csvgo-rf");
  await page.waitForSelector("#csvresult-rf table", { timeout: 10000 });
  const csvClasses = await page.$$eval("#csvresult-rf tr td:nth-child(2)", t => t.map(x => x.textContent));
  check("CSV box: two rows, each the API's class", csvClasses.length === 2 && csvClasses.every(c => c === wantRow), csvClasses);
  await page.setInputFiles("#file-cnn", imagePath);
  const icls = await page.waitForSelector("#result-cnn .cls", { timeout: 10000 });
  const ishown = await icls.getAttribute("data-class");
  check("upload: the shown class is the API's", ishown === wantImage, ishown);
  await page.click("#random-cnn");
  await page.waitForSelector("#exresult-cnn .cls", { timeout: 10000 });
  const truth = await page.$eval("#exresult-cnn .true", e => e.getAttribute("data-true"));
  check("random example: shows its true class", truth === "galaxy" || truth === "star", truth);
  const exBars = await page.$$eval("#exresult-cnn .bar", b => b.length);
  check("random example: probability bars", exBars === 2, exBars);
  await page.screenshot({ path: shot, fullPage: true });
} catch (e) {
  console.log("FAIL browser: " + e);
  failed++;
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);

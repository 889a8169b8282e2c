// Browser tests of the editorial console: real headless Chromium (Debian's
// package) driven by playwright-core, against a running API + worker with a
// fake LLM provider. Started by apps/worker/tests/it/console_browser.rs,
// which passes the addresses and accounts in the environment.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";
import { goldenHourPng } from "./photo.mjs";

const BASE = process.env.CONSOLE_BASE_URL;
const EDITOR = process.env.CONSOLE_EDITOR;
const VIEWER = process.env.CONSOLE_VIEWER;
const PASSWORD = process.env.CONSOLE_PASSWORD;
const TOTP_SECRET = process.env.CONSOLE_EDITOR_TOTP_SECRET; // base32
const SHOTS = process.env.CONSOLE_SCREENSHOT_DIR;
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
for (const [k, v] of Object.entries({ BASE, EDITOR, VIEWER, PASSWORD, TOTP_SECRET, SHOTS })) {
  if (!v) throw new Error(`missing environment for ${k}`);
}
mkdirSync(SHOTS, { recursive: true });

// RFC 6238 TOTP (SHA-1, 6 digits, 30 s), to answer the 2FA step.
function base32(s) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of s.replace(/=+$/, "").toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}
function totp(secret, unix) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unix / 30)));
  const h = createHmac("sha1", base32(secret)).update(counter).digest();
  const o = h[h.length - 1] & 0xf;
  const n = ((h[o] & 0x7f) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3];
  return String(n % 1_000_000).padStart(6, "0");
}

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
after(() => browser.close());

const nav = (page, name) => page.getByRole("navigation", { name: "Console" }).getByRole("link", { name });

async function signIn(context, login, { totpSecret } = {}) {
  const page = await context.newPage();
  await page.goto(`${BASE}/console`);
  assert.match(page.url(), /\/console\/login$/, "an anonymous visit goes to the login page");
  await page.getByLabel("Email or username").fill(login);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  if (totpSecret) {
    // The code used to enrol was claimed; the next step's code is valid too.
    const code = totp(totpSecret, Date.now() / 1000 + 30);
    await page.getByLabel("Authentication code").fill(code);
    await page.getByRole("button", { name: "Verify" }).click();
  }
  await page.waitForURL(/\/console\/queue/);
  await assert.doesNotReject(page.getByRole("heading", { name: "Approval queue" }).waitFor());
  return page;
}

async function startArticle(page, topic) {
  await nav(page, "New article").click();
  await page.getByLabel("Topic").fill(topic);
  await page.getByLabel("Category").fill("Engineering");
  await page.getByLabel("Tags (comma-separated)").fill("rust, web services");
  await page.getByRole("button", { name: "Start generation" }).click();
  await page.waitForURL(/\/console\/content\/[0-9a-f-]{36}/);
  return page.url().split("/console/content/")[1].split("?")[0];
}

/// Watches the live progress bar until the page reloads into the review.
async function watchProgress(page) {
  const bar = page.locator("[data-task-events] progress");
  const badge = page.locator("[data-status]").first();
  // Either the run is still going (the bar is there) or it already ended.
  await page.locator("[data-task-events] progress, [data-status]:text('awaiting approval')").first().waitFor({ timeout: 10_000 });
  const seen = new Set();
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    const status = (await badge.textContent()).trim();
    if (status === "awaiting approval") break;
    if (await bar.count()) {
      const v = await bar.getAttribute("value").catch(() => null);
      if (v !== null) seen.add(Number(v));
    }
    await page.waitForTimeout(100);
  }
  await page.locator("[data-status]", { hasText: "awaiting approval" }).waitFor({ timeout: 5_000 });
  return [...seen];
}

const editorContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
// The fake Pexels answers with images.pexels.com URLs, which cannot be
// reached from here: the browser gets a locally drawn photo instead.
const PHOTO = goldenHourPng();
let photoRequests = 0;
await editorContext.route("https://images.pexels.com/**", (route) => {
  photoRequests += 1;
  return route.fulfill({ status: 200, contentType: "image/png", body: PHOTO });
});
const viewerContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
let editor;
let firstId;
let secondId;

test("an editor signs in with TOTP, generates an article, watches it, edits and approves it", async () => {
  editor = await signIn(editorContext, EDITOR, { totpSecret: TOTP_SECRET });
  firstId = await startArticle(editor, "Rust web services that stay fast");
  const progress = await watchProgress(editor);
  assert.ok(progress.some((v) => v > 0 && v < 100), `the bar moved during the run (saw ${progress})`);

  // The review page: rendered draft, critique, sources, SEO limits, image credit.
  await editor.getByRole("heading", { name: "Critique" }).waitFor();
  assert.ok(await editor.locator("#preview h1, #preview h2").count() > 0, "the draft is rendered");
  assert.equal(await editor.locator("#preview script").count(), 0);
  assert.match(await editor.locator("figcaption").textContent(), /Photo by/);
  assert.ok(await editor.locator(".sources li").count() > 0, "research sources are listed");
  assert.match(await editor.locator('[data-count-for="seo_title"]').textContent(), /\/60$/);
  const image = editor.locator("figure img").first();
  await image.waitFor();
  assert.ok(
    await image.evaluate((img) => img.complete && img.naturalWidth > 0),
    "the featured image is shown",
  );
  assert.ok(photoRequests > 0, "the photo was requested from its Pexels URL");
  await editor.screenshot({ path: `${SHOTS}/console-review.png`, fullPage: false });

  // Live preview of a content edit, then a new title.
  const content = editor.getByLabel("Content (markdown)");
  await content.fill((await content.inputValue()) + "\n\n## Added in review\n\nA closing note.");
  await editor.locator("#preview h2", { hasText: "Added in review" }).waitFor({ timeout: 5_000 });
  await editor.getByLabel("Title", { exact: true }).fill("Fast Rust web services, reviewed");
  await editor.getByLabel("Publish now").check();
  await editor.getByRole("button", { name: "Approve" }).click();
  await editor.locator(".flash", { hasText: "Approved." }).waitFor();
  const slug = (await editor.locator(".flash a").first().textContent()).trim();

  // The public API serves the approved post, with the reviewer's edits.
  const res = await fetch(`${BASE}/api/posts/${slug}`);
  assert.equal(res.status, 200, `GET /api/posts/${slug}`);
  const post = (await res.json()).data;
  assert.equal(post.title, "Fast Rust web services, reviewed");
  assert.equal(post.status, "published");
  assert.match(post.content, /Added in review/);
  assert.equal(post.category.name, "Engineering");
  assert.deepEqual(post.tags.map((t) => t.name).sort(), ["rust", "web services"]);
});

test("the queue lists what awaits review; a viewer sees it but cannot approve", async () => {
  secondId = await startArticle(editor, "Queues in PostgreSQL without losing work");
  await watchProgress(editor);
  await nav(editor, "Queue").click();
  const row = editor.locator(`tr[data-content-task="${secondId}"]`);
  await row.waitFor();
  assert.match(await row.textContent(), /\d+\.\d/, "the quality score is shown");
  await editor.screenshot({ path: `${SHOTS}/console-queue.png`, fullPage: false });

  const viewer = await signIn(viewerContext, VIEWER);
  await viewer.goto(`${BASE}/console/content/${secondId}`);
  await viewer.getByRole("heading", { name: "Critique" }).waitFor();
  assert.equal(await viewer.getByRole("button", { name: "Approve" }).count(), 0, "no approve button");
  assert.equal(await nav(viewer, "New article").count(), 0);
  // A forged approval with the viewer's own valid token is refused.
  const csrf = await viewer.locator('input[name="csrf"]').first().inputValue();
  const forged = await viewer.request.post(`${BASE}/console/content/${secondId}/decide`, {
    form: { csrf, action: "approve", mode: "publish", title: "Forged" },
    maxRedirects: 0,
  });
  assert.equal(forged.status(), 403);
  const still = await viewer.request.get(`${BASE}/console/content/${secondId}`);
  assert.match(await still.text(), /awaiting approval/, "nothing changed");
});

test("forms without the CSRF token, or with another session's, get 403", async () => {
  const missing = await editor.request.post(`${BASE}/console/content/${secondId}/decide`, {
    form: { action: "approve", mode: "draft" },
    maxRedirects: 0,
  });
  assert.equal(missing.status(), 403);
  const viewerToken = await (await viewerContext.pages())[0].locator('input[name="csrf"]').first().inputValue();
  const wrong = await editor.request.post(`${BASE}/console/content/${secondId}/decide`, {
    form: { csrf: viewerToken, action: "approve", mode: "draft" },
    maxRedirects: 0,
  });
  assert.equal(wrong.status(), 403);
  await editor.goto(`${BASE}/console/content/${secondId}`);
  await editor.locator("[data-status]", { hasText: "awaiting approval" }).waitFor();
});

test("an editor regenerates with feedback, then rejects", async () => {
  await editor.goto(`${BASE}/console/content/${secondId}`);
  await editor.getByLabel("Feedback for the writer").fill("Add a section on retries.");
  await editor.getByRole("button", { name: "Regenerate with feedback" }).click();
  await editor.locator(".flash", { hasText: "revision" }).waitFor();
  await watchProgress(editor);
  await editor.getByLabel("Feedback for the writer").fill("Not for this quarter.");
  await editor.getByRole("button", { name: "Reject" }).click();
  await editor.locator(".flash", { hasText: "Rejected" }).waitFor();
  await editor.locator("[data-status]", { hasText: "rejected" }).waitFor();
  assert.match(await editor.locator(".meta").first().textContent(), /Not for this quarter/);
});

test("posts, costs and logout", async () => {
  await nav(editor, "Posts").click();
  await editor.getByRole("row", { name: /Fast Rust web services, reviewed/ }).waitFor();
  await nav(editor, "Costs & health").click();
  await editor.getByRole("heading", { name: "Spend per day" }).waitFor();
  assert.ok(await editor.locator("svg.chart rect").count() >= 1, "a bar for today's spend");
  const today = new Date().toISOString().slice(0, 10);
  await editor.getByRole("row", { name: new RegExp(`${today} openai gpt-4o-mini`) }).waitFor();
  assert.match(await editor.locator('[data-metric="live_workers"]').textContent(), /^[1-9]/);
  await editor.getByRole("button", { name: "Log out" }).click();
  await editor.waitForURL(/\/console\/login$/);
  await editor.goto(`${BASE}/console/queue`);
  assert.match(editor.url(), /\/console\/login$/, "the session ended");
});

// The product page's flow through eventward's web console, in Debian's
// chromium driven by playwright-core. Run by tests/console.rs, which starts
// the daemon, makes the sign-in link and the read token, serves the JWKS,
// and afterwards sends an event with the key this script copied.
//
// Input (environment):
//   CHROMIUM        the browser binary (/usr/bin/chromium)
//   CONSOLE_LINK    a one-time `eventward console-link` URL
//   CONSOLE_BASE    http://127.0.0.1:PORT (the admin listener)
//   READ_TOKEN      an admin token with the read scope
//   JWKS_URL        a JWKS served by the test
//   SCREENS         directory for the screenshots
// Output: one JSON object on the last line of stdout. Any failed
// expectation throws: a non-zero exit the Rust test reports.

import { chromium } from "playwright-core";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const CHROMIUM = env("CHROMIUM");
const LINK = env("CONSOLE_LINK");
const BASE = env("CONSOLE_BASE");
const READ_TOKEN = env("READ_TOKEN");
const JWKS_URL = env("JWKS_URL");
const SCREENS = env("SCREENS");
mkdirSync(SCREENS, { recursive: true });

// A fresh profile every run: playwright passes it as --user-data-dir.
const profile = mkdtempSync(join(tmpdir(), "eventward-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  baseURL: BASE,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});

const result = { steps: [] };
let shot = 0;
async function screen(page, name) {
  shot += 1;
  const file = join(SCREENS, `${String(shot).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  result.steps.push(name);
}

// Every console answer carries the strict headers.
function checkHeaders(response) {
  const h = response.headers();
  assert.match(h["content-security-policy"] ?? "", /default-src 'none'/);
  assert.match(h["content-security-policy"], /frame-ancestors 'none'/);
  assert.equal(h["x-content-type-options"], "nosniff");
  assert.equal(h["referrer-policy"], "no-referrer");
  assert.equal(h["cache-control"], "no-store");
}

try {
  let clipboard = false;
  try {
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: BASE });
    clipboard = true;
  } catch (e) {
    console.error(`clipboard permissions not granted: ${e.message}`);
  }
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });

  // ---- sign in with the one-time link
  const first = await page.goto(LINK);
  checkHeaders(first);
  await screen(page, "sign-in-link");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL("**/console/settings");
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "eventward_console");
  assert.ok(session, "a session cookie");
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, "Strict");
  assert.equal(session.path, "/console");

  // The link is used once.
  const again = await context.newPage();
  await again.goto(LINK);
  await again.getByRole("button", { name: "Sign in" }).click();
  await again.getByText("This sign-in link cannot be used").waitFor();
  await again.close();

  // ---- Settings → Identity & Authentication → API Keys → Request API Key
  await page.getByRole("link", { name: "Settings" }).first().click();
  await page.getByRole("link", { name: "Identity & Authentication" }).click();
  await page.getByRole("heading", { name: "API Keys" }).waitFor();
  await screen(page, "identity");
  await page.getByRole("link", { name: "Request API Key" }).click();
  await page.getByLabel("Name your key").fill("console-key");
  await screen(page, "request-api-key");
  // Keyboard only: Enter submits the form.
  await page.getByLabel("Name your key").press("Enter");
  const keyText = (await page.locator("#new-key").textContent()).trim();
  assert.match(keyText, /^evw_/);
  result.key = keyText;
  await screen(page, "api-key-shown-once");

  // Copy button: the clipboard API from the embedded script.
  await page.getByRole("button", { name: "Copy" }).click();
  await page.locator("#copy-status").filter({ hasText: /./ }).waitFor();
  result.copy_status = (await page.locator("#copy-status").textContent()).trim();
  if (clipboard && result.copy_status.startsWith("Copied")) {
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    assert.equal(copied, keyText, "the clipboard holds the key");
    result.clipboard = copied;
  }

  await page.getByRole("link", { name: "Done" }).click();
  await page.waitForURL("**/console/settings/identity**");
  const row = page.locator('tr[data-key="console-key"]');
  await row.waitFor();
  assert.equal(await page.content().then((html) => html.includes(keyText)), false,
    "the key is not on the list after Done");
  assert.match(await row.textContent(), /active/);
  assert.match(await row.textContent(), new RegExp(keyText.slice(0, 8)));
  await screen(page, "api-keys-after-done");

  // ---- Disable, enable, roll and revoke another key, each confirmed first.
  await page.getByRole("link", { name: "Request API Key" }).click();
  await page.getByLabel("Name your key").fill("spare-key");
  await page.getByLabel("Expires in (optional)").fill("90d");
  await page.getByRole("button", { name: "Request API Key" }).click();
  const spare = (await page.locator("#new-key").textContent()).trim();
  await page.getByRole("link", { name: "Done" }).click();
  const spareRow = page.locator('tr[data-key="spare-key"]');
  const status = () => spareRow.first().locator("td").nth(5).textContent();
  await page.getByRole("link", { name: "Disable spare-key" }).click();
  await page.getByRole("heading", { name: "Disable API key spare-key?" }).waitFor();
  await page.getByRole("button", { name: "Disable API key" }).click();
  await page.getByText("The key was disabled.").waitFor();
  assert.equal((await status()).trim(), "disabled");
  await page.getByRole("link", { name: "Enable spare-key" }).click();
  await page.getByRole("button", { name: "Enable API key" }).click();
  await page.getByText("The key was enabled.").waitFor();
  assert.equal((await status()).trim(), "active");
  await page.getByRole("link", { name: "Roll spare-key" }).click();
  await page.getByLabel("Grace period of the current key").fill("1h");
  await page.getByRole("button", { name: "Roll API key" }).click();
  const rolled = (await page.locator("#new-key").textContent()).trim();
  assert.notEqual(rolled, spare, "a roll issues a new key");
  assert.match(await page.getByRole("status").first().textContent(), /keeps working for 1h/);
  await screen(page, "roll-api-key");
  await page.getByRole("link", { name: "Done" }).click();
  assert.equal(await spareRow.count(), 2, "the new key and the old one in its grace period");
  assert.match(await page.locator("#api-key-list").textContent(), /rolled/);
  await page.getByRole("link", { name: "Revoke spare-key" }).click();
  await page.getByRole("button", { name: "Revoke API key" }).click();
  await page.getByText("The key was revoked.").waitFor();
  assert.deepEqual(
    (await spareRow.locator("td:nth-child(6)").allTextContents()).map((t) => t.trim()),
    ["revoked", "revoked"],
  );
  const listed = await page.content();
  assert.ok(!listed.includes(spare) && !listed.includes(rolled), "no secret on the list");
  result.spare_keys = [spare, rolled];

  // ---- JWT Providers → Add JWT Provider → Check API Credentials → Save
  await page.getByRole("link", { name: "Add JWT Provider" }).click();
  await page.getByLabel("Name", { exact: true }).fill("test-idp");
  await page.getByLabel("JWKS URL").fill(JWKS_URL);
  await page.getByLabel("Audience (optional)").fill("eventward-console-test");
  await page.getByRole("button", { name: "Check API Credentials" }).click();
  const report = page.locator("#check-report");
  await report.waitFor();
  assert.match(await report.textContent(), /Check passed/);
  const usable = await page.locator("#usable-keys tbody tr").allTextContents();
  assert.ok(usable.some((r) => r.includes("console-kid") && r.includes("RSA")), usable.join(" | "));
  const unusable = await page.locator("#unusable-keys tbody tr").allTextContents();
  assert.ok(unusable.length >= 1, "the report lists the unusable key");
  result.check_usable = usable;
  result.check_unusable = unusable;
  // Nothing saved before Save.
  const before = await page.request.get("/console/settings/identity");
  assert.equal((await before.text()).includes('data-provider="test-idp"'), false);
  await screen(page, "check-api-credentials");
  await page.getByRole("button", { name: "Save" }).click();
  await page.locator('tr[data-provider="test-idp"]').waitFor();
  await screen(page, "jwt-provider-saved");

  // A failed check offers Save anyway, and only that.
  await page.getByRole("link", { name: "Add JWT Provider" }).click();
  await page.getByLabel("Name", { exact: true }).fill("down-idp");
  await page.getByLabel("JWKS URL").fill("http://127.0.0.1:9/.well-known/jwks.json");
  await page.getByRole("button", { name: "Check API Credentials" }).click();
  await page.locator("#check-report", { hasText: "Check failed" }).waitFor();
  assert.equal(await page.getByRole("button", { name: "Save", exact: true }).count(), 0);
  await screen(page, "check-failed");
  await page.getByRole("button", { name: "Save anyway" }).click();
  await page.locator('tr[data-provider="down-idp"]').waitFor();

  // ---- Workspaces → a workspace → a notification
  await page.getByRole("link", { name: "Workspaces" }).first().click();
  await page.getByLabel("Slug").fill("acme");
  await page.getByRole("button", { name: "Create workspace" }).click();
  await page.waitForURL("**/console/workspaces/acme");
  await page.getByLabel("Slug").fill("order-shipped");
  await page.getByRole("button", { name: "Create notification" }).click();
  await page.waitForURL("**/console/workspaces/acme/notifications/order-shipped");
  await page.getByRole("link", { name: "Workspaces" }).first().click();
  await page.getByRole("link", { name: "acme" }).click();
  await page.getByRole("link", { name: "order-shipped" }).click();
  await page.getByRole("heading", { name: "Secure your endpoint" }).waitFor();
  assert.match(await page.locator("#samples-caption").textContent(), /Select API keys or JWT providers/);
  await screen(page, "notification-unsecured");

  // ---- Secure your endpoint: the samples follow the (unsaved) selection.
  await page.getByLabel("JWT providers (browsers, apps)").check();
  await page.getByLabel("test-idp").check();
  await page.locator("#samples-caption", { hasText: "test-idp" }).waitFor();
  await page.getByRole("tab", { name: "Browser" }).waitFor();
  await screen(page, "samples-jwt");
  await page.getByLabel("API keys (servers)").check();
  await page.getByLabel("console-key").check();
  await page.locator("#samples-caption", { hasText: "console-key" }).waitFor();
  assert.equal(await page.getByRole("tab", { name: "Browser" }).count(), 0);
  // Screen readers hear one sentence about the change, not the programs.
  const live = page.getByRole("status").filter({ hasText: "Code samples updated." });
  assert.match(await live.textContent(), /Use the key console-key/);
  assert.equal(await page.locator("#samples[aria-live]").count(), 0);
  // Tabs: keyboard arrows move between languages.
  await page.getByRole("tab", { name: "curl" }).focus();
  await page.keyboard.press("ArrowRight");
  assert.equal(await page.getByRole("tab", { name: "Python" }).getAttribute("aria-selected"), "true");
  const python = await page.locator("#sample-python").textContent();
  assert.match(python, /EVENTWARD_API_KEY/);
  assert.match(python, /acme\/order-shipped/);
  result.sample_python = python;
  await screen(page, "samples-api-key");
  await page.getByRole("button", { name: "Save" }).click();
  await page.waitForURL("**/order-shipped?saved=1*");
  assert.match(await page.locator("#security").textContent(), /API keys: console-key/);
  await screen(page, "endpoint-secured");

  // ---- CSRF: a change without the session's token is refused.
  const noToken = await page.request.post("/console/workspaces", {
    form: { slug: "forged" },
    headers: { origin: BASE },
  });
  assert.equal(noToken.status(), 403);
  assert.equal(noToken.headers()["content-type"], "application/problem+json");
  assert.equal((await noToken.json()).code, "csrf_failed");
  const wrongToken = await page.request.post("/console/workspaces", {
    form: { slug: "forged", csrf_token: "not-the-token" },
  });
  assert.equal(wrongToken.status(), 403);
  assert.equal((await wrongToken.json()).code, "csrf_failed");
  result.csrf_refused = true;

  // ---- Audit: the console's changes, by the link's session.
  await page.getByRole("link", { name: "Audit" }).click();
  const audit = await page.locator("#audit-list").textContent();
  assert.match(audit, /console:/);
  assert.equal(audit.includes(keyText), false, "no secret in the audit");
  await screen(page, "audit");

  // ---- Sign out ends the session, also for a copy of its cookie.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL("**/console/sign-in");
  const after = await fetch(`${BASE}/console/settings`, {
    headers: { cookie: `eventward_console=${session.value}` },
    redirect: "manual",
  });
  assert.equal(after.status, 303, "the signed-out session is gone");

  // ---- A read-scope session sees everything and can change nothing.
  const rp = page;
  await rp.goto("/console/sign-in");
  await rp.getByLabel("Admin token").fill(READ_TOKEN);
  await rp.getByLabel("Admin token").press("Enter");
  await rp.waitForURL("**/console/settings");
  await rp.goto("/console/settings/identity");
  await rp.locator('tr[data-key="console-key"]').waitFor();
  assert.equal(await rp.getByRole("link", { name: "Request API Key" }).count(), 0);
  assert.equal(await rp.getByRole("link", { name: "Add JWT Provider" }).count(), 0);
  assert.equal((await rp.content()).includes(keyText), false, "the key is never shown again");
  await rp.goto("/console/workspaces/acme/notifications/order-shipped");
  assert.equal(await rp.getByRole("button", { name: "Save" }).count(), 0);
  await screen(rp, "read-only");
  const csrf = await rp.locator('input[name="csrf_token"]').first().getAttribute("value");
  const refused = await rp.request.post("/console/workspaces", {
    form: { slug: "by-reader", csrf_token: csrf },
  });
  assert.equal(refused.status(), 403);
  assert.equal((await refused.json()).code, "insufficient_scope");
  result.read_refused = true;

  assert.deepEqual(errors, [], "no script errors");
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(result));

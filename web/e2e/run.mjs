// End-to-end test of storybot in a real headless Chromium, against the real Go server.
//
//   npm run e2e
//
// It builds the web bundle when it is older than its sources, builds the storybot binary from
// the repository root (or uses STORYBOT_BIN), starts it on a free 127.0.0.1 port with a fresh
// SQLite data directory and the built-in offline storyteller, then drives Debian's Chromium
// (CHROMIUM_PATH, default /usr/bin/chromium) through playwright-core. No browser is downloaded
// and every request that leaves the test server is blocked: the app and the playground must
// work offline. Screenshots go to e2e/screenshots/. Exits non-zero on any failure.

import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const webDir = fileURLToPath(new URL('..', import.meta.url));
const repoRoot = path.resolve(webDir, '..');
const shotsDir = path.join(webDir, 'e2e', 'screenshots');
const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const chromiumFlags = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
// Fast enough to keep the test short, slow enough that text visibly grows between samples.
const tokensPerSecond = process.env.STORYTELLER_TOKENS_PER_SECOND || '30';

const cleanups = [];
const results = [];
// Every websocket the pages open, routed through the test so that it can cut one.
const sockets = [];
let base = '';

function log(...parts) {
  console.log(...parts);
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

// ---------------------------------------------------------------------------------------------
// Building and starting storybot

function newestMtime(target) {
  const info = statSync(target);
  if (!info.isDirectory()) return info.mtimeMs;
  let newest = info.mtimeMs;
  for (const entry of readdirSync(target)) newest = Math.max(newest, newestMtime(path.join(target, entry)));
  return newest;
}

function run(command, args, cwd) {
  log(`$ ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { cwd, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.status ?? result.signal})`);
}

function buildBundleIfStale() {
  const built = path.join(webDir, 'dist', 'index.html');
  const sources = ['src', 'public', 'index.html', 'playground.html', 'vite.config.ts', 'package-lock.json'].map((p) => path.join(webDir, p));
  const stale = !existsSync(built) || Math.max(...sources.filter(existsSync).map(newestMtime)) > statSync(built).mtimeMs;
  if (stale) run('npm', ['run', 'build'], webDir);
}

async function freePort() {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

async function startStorybot(workDir) {
  let bin = process.env.STORYBOT_BIN;
  if (!bin) {
    bin = path.join(workDir, 'storybot');
    run('go', ['build', '-o', bin, '.'], repoRoot);
  }
  const port = await freePort();
  const dataDir = path.join(workDir, 'data');
  mkdirSync(dataDir);
  const env = { ...process.env, STORYBOT_ADDR: `127.0.0.1:${port}`, STORYBOT_DATA_DIR: dataDir, STORYTELLER_TOKENS_PER_SECOND: tokensPerSecond };
  // The embedded SQLite database and the offline storyteller: nothing outside this machine.
  delete env.DATABASE_URL;
  delete env.LLM_BASE_URL;
  const logFile = createWriteStream(path.join(shotsDir, 'server.log'));
  await once(logFile, 'open');
  const server = spawn(path.resolve(bin), [], { cwd: workDir, env, stdio: ['ignore', logFile, logFile] });
  let exited = false;
  server.on('exit', () => {
    exited = true;
  });
  cleanups.push(async () => {
    if (!exited) {
      server.kill('SIGTERM');
      const stopped = await Promise.race([once(server, 'exit').then(() => true), sleep(10_000).then(() => false)]);
      if (!stopped) server.kill('SIGKILL');
    }
    logFile.end();
  });

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    assert(!exited, `storybot exited during start-up (exit code ${server.exitCode}); see e2e/screenshots/server.log`);
    try {
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ query: '{ __typename }' }),
      });
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    assert(Date.now() < deadline, 'storybot did not answer /graphql within 60 s');
    await sleep(200);
  }
  log(`storybot is up at ${url} (pid ${server.pid})`);
  return url;
}

async function gql(query, variables = {}) {
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  if (body.errors?.length) throw new Error(`GraphQL error: ${JSON.stringify(body.errors)}`);
  return body.data;
}

// ---------------------------------------------------------------------------------------------
// Browser helpers

async function shot(page, name) {
  await page.screenshot({ path: path.join(shotsDir, `${name}.png`), fullPage: true });
}

async function step(name, page, body) {
  const started = Date.now();
  try {
    await body();
    results.push({ name, ok: true });
    log(`  ok   ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    results.push({ name, ok: false });
    log(`  FAIL ${name}: ${error?.stack ?? error}`);
    const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-');
    await shot(page, `failed-${slug}`).catch(() => {});
    throw error;
  }
}

const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

// Runs axe-core's WCAG 2.1 A/AA rules on the page and fails on serious or critical findings.
async function expectAccessible(page, label) {
  await page.addScriptTag({ path: axePath });
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`);
  });
  assert(violations.length === 0, `accessibility problems on ${label}:\n    ${violations.join('\n    ')}`);
}

const storyText = (page) => page.getByTestId('story-text').evaluate((el) => el.textContent ?? '');
const storyStatus = (page) => page.locator('article.story').getAttribute('data-status');
const openStoryId = (page) => new URL(page.url()).searchParams.get('story');

async function waitForStatus(page, status, timeout = 180_000) {
  await page.locator(`article.story[data-status="${status}"]`).waitFor({ timeout });
}

// Samples the story text while it is being written and checks that it grows.
async function expectGrowingText(page, samples = 6, gapMs = 400) {
  const lengths = [];
  for (let i = 0; i < samples; i++) {
    lengths.push((await storyText(page)).length);
    await sleep(gapMs);
  }
  const rises = lengths.slice(1).filter((n, i) => n > lengths[i]).length;
  assert(rises >= samples / 2, `story text did not grow while streaming: lengths ${lengths.join(', ')}`);
  return lengths;
}

async function storedStory(id) {
  const data = await gql('query($id: ID!) { node(id: $id) { ... on Story { status text tokenCount } } }', { id });
  return data.node;
}

// The text shown equals the stored text once both settle.
async function expectTextMatchesServer(page, id) {
  let shown = '';
  let stored = null;
  for (let i = 0; i < 25; i++) {
    shown = await storyText(page);
    stored = await storedStory(id);
    if (stored.text === shown) return stored;
    await sleep(200);
  }
  throw new Error(`shown text (${shown.length} chars) differs from stored text (${stored?.text.length} chars)`);
}

async function expectToast(page, text) {
  await page.locator('[data-testid="toast"]', { hasText: text }).first().waitFor({ timeout: 10_000 });
}

// ---------------------------------------------------------------------------------------------
// The scenario

async function scenario(context) {
  const page = context.pages()[0] ?? (await context.newPage());
  const pageErrors = [];
  page.on('pageerror', (error) => pageErrors.push(error));
  page.on('console', (msg) => {
    if (msg.type() === 'error') log(`  [browser console] ${msg.text()}`);
  });
  const createPromptRequests = [];
  page.on('request', (req) => {
    if (req.url().startsWith(`${base}/graphql`) && (req.postData() ?? '').includes('CreatePrompt')) createPromptRequests.push(req);
  });

  await step('the Go server serves the app, hashed assets and the playground with the right caching', page, async () => {
    const index = await fetch(`${base}/`);
    assert(index.status === 200, `GET / answered ${index.status}`);
    assert(index.headers.get('cache-control') === 'no-cache', `GET / Cache-Control ${index.headers.get('cache-control')}`);
    const html = await index.text();
    const asset = html.match(/src="(\/assets\/[^"]+\.js)"/)?.[1];
    assert(asset, 'index.html references no /assets/ script: is the bundle embedded?');
    const script = await fetch(`${base}${asset}`);
    assert(script.status === 200, `GET ${asset} answered ${script.status}`);
    assert(script.headers.get('cache-control') === 'public, max-age=31536000, immutable', `GET ${asset} Cache-Control ${script.headers.get('cache-control')}`);
    const deep = await fetch(`${base}/some/deep/link`);
    assert(deep.status === 200 && (await deep.text()).includes('id="root"'), 'an unknown path does not fall back to the app');
    const playground = await fetch(`${base}/playground`);
    assert(playground.status === 200 && (await playground.text()).includes('id="graphiql"'), '/playground does not serve GraphiQL');
  });

  await step('the app loads with an empty prompt list', page, async () => {
    await page.goto(base);
    await page.getByRole('heading', { name: 'storybot' }).waitFor();
    await page.getByText('No prompts yet').waitFor();
    await shot(page, '01-empty');
  });

  await step('an empty prompt gets a warning and is not sent', page, async () => {
    await page.getByRole('button', { name: 'Add prompt' }).click();
    await page.getByText('Write a prompt first').waitFor();
    assert((await page.getByLabel('New prompt').getAttribute('aria-invalid')) === 'true', 'the field is not marked invalid');
    await sleep(300);
    assert(createPromptRequests.length === 0, 'an empty prompt was sent to the server');
    await shot(page, '02-empty-prompt-warning');
  });

  const promptText = 'A lighthouse keeper who collects the umbrellas that storms leave behind';
  let promptId = '';
  await step('a prompt is added from the keyboard (Ctrl+Enter)', page, async () => {
    const field = page.getByLabel('New prompt');
    await field.focus();
    await page.keyboard.type(promptText);
    await page.keyboard.press('Control+Enter');
    await expectToast(page, 'Prompt added.');
    await page.getByRole('button', { name: new RegExp(`^${promptText}`) }).waitFor();
    assert((await field.inputValue()) === '', 'the field was not cleared');
    assert(createPromptRequests.length === 1, `expected one CreatePrompt request, saw ${createPromptRequests.length}`);
    // The new prompt opens at once.
    await page.locator('.prompt-quote', { hasText: promptText }).waitFor();
    promptId = new URL(page.url()).searchParams.get('prompt');
    assert(promptId, 'the new prompt is not in the address');
    await shot(page, '03-prompt-added');
  });

  let completedId = '';
  await step('a story is generated and its tokens arrive live', page, async () => {
    await page.getByRole('button', { name: 'Generate story' }).click();
    await page.locator('article.story').waitFor();
    completedId = openStoryId(page);
    assert(completedId, 'the story id is not in the address');
    await page.locator('article.story[data-status="GENERATING"]').waitFor({ timeout: 20_000 });
    const lengths = await expectGrowingText(page);
    log(`       text length while streaming: ${lengths.join(' → ')}`);
    await shot(page, '04-streaming');
  });

  await step('the story completes and the text shown equals the stored text', page, async () => {
    await waitForStatus(page, 'COMPLETED');
    const stored = await expectTextMatchesServer(page, completedId);
    assert(stored.status === 'COMPLETED', `stored status ${stored.status}`);
    assert(stored.text.length > 100, `a suspiciously short story: ${JSON.stringify(stored.text)}`);
    await page.locator(`.stories li[data-story-id="${completedId}"]`, { hasText: 'Completed' }).waitFor();
    await shot(page, '05-completed');
  });

  let cancelledId = '';
  await step('a story being written is cancelled and keeps its text', page, async () => {
    await page.getByRole('button', { name: 'Generate story' }).click();
    await page.waitForFunction((prev) => new URL(location.href).searchParams.get('story') !== prev, completedId);
    cancelledId = openStoryId(page);
    await page.locator('article.story[data-status="GENERATING"]').waitFor({ timeout: 20_000 });
    await page.waitForFunction(() => (document.querySelector('[data-testid="story-text"]')?.textContent ?? '').length > 40);
    await page.getByRole('button', { name: 'Cancel story', exact: true }).click();
    await waitForStatus(page, 'CANCELLED', 10_000);
    await expectToast(page, 'Story cancelled.');
    const stored = await expectTextMatchesServer(page, cancelledId);
    assert(stored.status === 'CANCELLED', `stored status ${stored.status}`);
    assert(stored.text.length > 40, 'the cancelled story lost its text');
    await shot(page, '06-cancelled');
  });

  await step('the prompt lists its earlier stories with their status', page, async () => {
    await page.locator(`.stories li[data-story-id="${cancelledId}"]`, { hasText: 'Cancelled' }).waitFor();
    await page.locator(`.stories li[data-story-id="${completedId}"]`, { hasText: 'Completed' }).waitFor();
    const count = await page.locator('.stories li').count();
    assert(count === 2, `expected 2 stories in the list, found ${count}`);
  });

  await step('the app passes axe-core WCAG 2.1 A/AA checks', page, async () => {
    await expectAccessible(page, 'the prompt page with its stories');
  });

  let liveId = '';
  await step('a story still being written, reopened from the list and after a reload, resumes live', page, async () => {
    await page.getByRole('button', { name: 'Generate story' }).click();
    await page.waitForFunction((prev) => new URL(location.href).searchParams.get('story') !== prev, cancelledId);
    liveId = openStoryId(page);
    await page.waitForFunction(() => (document.querySelector('[data-testid="story-text"]')?.textContent ?? '').length > 20);

    // Open another story, then come back: the text so far is there and keeps growing.
    await page.locator(`.stories li[data-story-id="${completedId}"] button`).click();
    await waitForStatus(page, 'COMPLETED', 10_000);
    const row = page.locator(`.stories li[data-story-id="${liveId}"]`);
    await row.getByText('Generating').waitFor();
    await row.locator('button').click();
    await page.locator(`article.story[data-story-id="${liveId}"][data-status="GENERATING"]`).waitFor();
    await expectGrowingText(page, 4);

    // A reload opens the same story from the address and follows it again.
    await page.reload();
    await page.locator(`article.story[data-story-id="${liveId}"][data-status="GENERATING"]`).waitFor();
    await page.waitForFunction(() => (document.querySelector('[data-testid="story-text"]')?.textContent ?? '').length > 20);
    await expectGrowingText(page, 4);
    await shot(page, '07-resumed-after-reload');
    await page.getByRole('button', { name: 'Cancel story', exact: true }).click();
    await waitForStatus(page, 'CANCELLED', 10_000);
    await expectTextMatchesServer(page, liveId);
  });

  await step('a dropped websocket reconnects by itself and the story resumes where it was', page, async () => {
    await page.getByRole('button', { name: 'Generate story' }).click();
    await page.waitForFunction((prev) => new URL(location.href).searchParams.get('story') !== prev, liveId);
    const id = openStoryId(page);
    await page.locator(`article.story[data-story-id="${id}"][data-status="GENERATING"]`).waitFor({ timeout: 20_000 });
    await page.waitForFunction(() => (document.querySelector('[data-testid="story-text"]')?.textContent ?? '').length > 40);
    const opened = sockets.length;
    // 1012 "service restart": what a client sees when a storybot replica goes away.
    for (const { ws, server } of sockets.splice(0)) {
      await ws.close({ code: 1012, reason: 'e2e: connection dropped' });
      await server.close();
    }
    await page.getByText('Connection lost. Reconnecting').waitFor({ timeout: 5_000 });
    await shot(page, '08-reconnecting');
    await page.waitForFunction(() => !document.querySelector('.notice'), null, { timeout: 15_000 });
    assert(sockets.length >= 1, `no new websocket after the drop (had ${opened})`);
    await expectGrowingText(page, 4);
    await waitForStatus(page, 'COMPLETED');
    await expectTextMatchesServer(page, id);
  });

  await step('a prompt is deleted', page, async () => {
    const doomed = 'A prompt that is about to be deleted';
    await page.getByLabel('New prompt').fill(doomed);
    await page.getByRole('button', { name: 'Add prompt' }).click();
    await page.getByRole('button', { name: new RegExp(`^${doomed}`) }).waitFor();
    await page.getByRole('button', { name: `Delete prompt: ${doomed}` }).click();
    await expectToast(page, 'Prompt deleted.');
    await page.getByRole('button', { name: new RegExp(`^${doomed}`) }).waitFor({ state: 'detached' });
    const { prompts } = await gql('{ prompts(first: 100) { edges { node { content } } } }');
    assert(!prompts.edges.some((e) => e.node.content === doomed), 'the prompt is still stored');
    await shot(page, '09-prompt-deleted');
  });

  await step('a failed request shows an error toast with its trace ID', page, async () => {
    const ghost = 'A prompt deleted behind the page’s back';
    await page.getByLabel('New prompt').fill(ghost);
    await page.getByRole('button', { name: 'Add prompt' }).click();
    await page.getByRole('button', { name: new RegExp(`^${ghost}`) }).waitFor();
    const { prompts } = await gql('{ prompts(first: 100) { edges { node { id content } } } }');
    const id = prompts.edges.find((e) => e.node.content === ghost)?.node.id;
    await gql('mutation($id: ID!) { deletePrompt(id: $id) }', { id });
    const response = page.waitForResponse((res) => res.url().startsWith(`${base}/graphql`) && (res.request().postData() ?? '').includes('DeletePrompt'));
    await page.getByRole('button', { name: `Delete prompt: ${ghost}` }).click();
    const headerTraceId = (await response).headers()['x-trace-id'];
    const toast = page.locator('[data-testid="toast"]', { hasText: 'Could not delete the prompt' });
    await toast.waitFor({ timeout: 10_000 });
    const traceId = (await toast.locator('.toast-trace code').textContent())?.trim();
    assert(traceId, 'the error toast shows no trace ID');
    assert(headerTraceId, 'the failed response has no X-Trace-Id header');
    assert(headerTraceId === traceId, `toast trace ID ${traceId} differs from X-Trace-Id ${headerTraceId}`);
    log(`       error toast trace ID: ${traceId}`);
    await shot(page, '10-error-toast-trace-id');
    await toast.getByRole('button', { name: 'Dismiss message' }).click();
    await page.getByRole('button', { name: new RegExp(`^${ghost}`) }).waitFor({ state: 'detached' });
  });

  await step('the app fits a phone-width screen', page, async () => {
    const phone = await context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(`${base}/?${new URLSearchParams({ prompt: promptId, story: completedId })}`);
    await phone.locator('article.story[data-status="COMPLETED"]').waitFor();
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflow <= 0, `the page is ${overflow}px wider than a phone screen`);
    await expectAccessible(phone, 'a phone-width screen');
    await shot(phone, '11-phone');
    await phone.close();
  });

  await step('GraphiQL at /playground runs a subscription and shows its events', page, async () => {
    const { generateStory } = await gql('mutation($id: ID!) { generateStory(input: { promptID: $id }) { id } }', { id: promptId });
    const subscription = 'subscription Follow($storyID: ID!) {\n  storyStream(storyID: $storyID) {\n    seq\n    status\n    tokenCount\n    delta\n  }\n}';
    const pg = await context.newPage();
    pg.on('pageerror', (error) => pageErrors.push(error));
    await pg.setViewportSize({ width: 1280, height: 860 });
    const query = new URLSearchParams({ query: subscription, variables: JSON.stringify({ storyID: generateStory.id }) });
    await pg.goto(`${base}/playground?${query}`);
    const run = pg.locator('.graphiql-execute-button');
    await run.waitFor({ timeout: 30_000 });
    await pg.locator('.graphiql-query-editor', { hasText: 'storyStream' }).waitFor({ timeout: 30_000 });
    await run.click();
    const response = pg.locator('.graphiql-response');
    const seqOf = async () => Number((await response.innerText()).match(/"seq":\s*(\d+)/)?.[1] ?? -1);
    await pg.waitForFunction(() => /"seq"/.test(document.querySelector('.graphiql-response')?.textContent ?? ''), null, { timeout: 20_000 });
    const first = await seqOf();
    await sleep(1_500);
    const later = await seqOf();
    assert(later > first, `GraphiQL showed no new events: seq ${first} then ${later}`);
    log(`       GraphiQL events: seq ${first} → ${later}`);
    await shot(pg, '12-playground-subscription');
    await pg.waitForFunction(() => /COMPLETED/.test(document.querySelector('.graphiql-response')?.textContent ?? ''), null, { timeout: 180_000 });
    await shot(pg, '13-playground-completed');
    await pg.close();
  });

  await step('no uncaught errors in the pages', page, async () => {
    assert(pageErrors.length === 0, `uncaught page errors: ${pageErrors.map((e) => e.message).join('; ')}`);
  });
}

// ---------------------------------------------------------------------------------------------

async function main() {
  mkdirSync(shotsDir, { recursive: true });
  const workDir = await mkdtemp(path.join(tmpdir(), 'storybot-e2e-'));
  cleanups.push(() => rm(workDir, { recursive: true, force: true }));

  buildBundleIfStale();
  base = await startStorybot(workDir);

  const profile = path.join(workDir, 'chromium-profile');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: chromiumFlags,
    viewport: { width: 1280, height: 860 },
  });
  cleanups.push(() => context.close());
  await context.routeWebSocket(/\/graphql$/, (ws) => {
    sockets.push({ ws, server: ws.connectToServer() });
  });

  // Offline: anything but the storybot under test is refused, so a CDN reference fails loudly.
  const offsite = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(base) || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
    offsite.push(url);
    return route.abort();
  });

  try {
    await scenario(context);
    const page = context.pages()[0];
    await step('nothing was loaded from outside the storybot server', page, async () => {
      assert(offsite.length === 0, `requests left the test server: ${offsite.join(', ')}`);
    });
  } catch {
    // The failing step has logged itself; the summary below counts it.
  }
}

async function cleanup() {
  while (cleanups.length) {
    try {
      await cleanups.pop()();
    } catch (error) {
      log(`cleanup: ${error?.message ?? error}`);
    }
  }
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    void cleanup().then(() => process.exit(130));
  });
}

let setupError = null;
try {
  await main();
} catch (error) {
  setupError = error;
  log(`e2e setup failed: ${error?.stack ?? error}`);
} finally {
  await cleanup();
}
const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed + (setupError ? 1 : 0);
log(`screenshots: ${path.relative(process.cwd(), shotsDir) || '.'}`);
log(`e2e: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);

// End-to-end test of storybot in a real headless Chromium, against the real Go server.
//
//   npm run e2e
//
// It builds the web bundle when it is older than its sources, builds the storybot binary from
// the repository root (or uses STORYBOT_BIN), starts it on a free 127.0.0.1 port with a fresh
// SQLite data directory and the built-in offline storyteller, then drives Debian's Chromium
// (CHROMIUM_PATH, default /usr/bin/chromium) through playwright-core, with one browser context
// per person: Ada (who signs up first and so becomes the admin), Bob, and a visitor without an
// account. No browser is downloaded and every request that leaves the test server is blocked:
// the app and the playground must work offline. Every page is watched for Content Security
// Policy violations. Toward the end a second storybot, with a tight per-client story rate
// (STORY_RATE_PER_MINUTE, STORY_RATE_BURST), is started for the rate-limit steps on a phone-width
// screen. Screenshots go to e2e/screenshots/. Exits non-zero on any failure.

import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
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
// Every websocket the pages open, routed through the test so that it can cut one and read what
// went over it; each is tagged with the browser context (the person) that opened it.
const sockets = [];
// Uncaught errors and Content Security Policy violations of every page of every context.
const pageErrors = [];
const cspViolations = [];
// Requests that tried to leave the storybot under test.
const offsite = [];
let base = '';

// The people of the scenario. Ada's and Bob's sessions are their browser contexts' cookies;
// gql() borrows Ada's unless told otherwise.
const ada = { email: 'ada@example.com', password: 'correct horse battery', name: 'Ada Lovelace', cookie: '' };
const bob = { email: 'bob@example.com', password: 'another good password', name: '', cookie: '' };

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

// The storybot binary, built once for every server the test starts.
let storybotBin = process.env.STORYBOT_BIN || '';

// Starts a storybot with its own data directory and log file; env overrides the defaults below.
async function startStorybot(workDir, name = 'server', extraEnv = {}) {
  if (!storybotBin) {
    storybotBin = path.join(workDir, 'storybot');
    run('go', ['build', '-o', storybotBin, '.'], repoRoot);
  }
  const bin = storybotBin;
  const port = await freePort();
  const dataDir = path.join(workDir, `data-${name}`);
  mkdirSync(dataDir);
  const env = {
    ...process.env,
    STORYBOT_ADDR: `127.0.0.1:${port}`,
    STORYBOT_DATA_DIR: dataDir,
    STORYTELLER_TOKENS_PER_SECOND: tokensPerSecond,
    // The scenario runs several stories at once, signs in and up many times, and starts more
    // stories per minute than a person would: no per-user or per-client limits get in the way.
    STORY_USER_MAX_RUNNING: '0',
    SIGNIN_RATE_PER_MINUTE: '0',
    STORY_RATE_PER_MINUTE: '0',
    STORYBOT_SIGNUP: 'open',
  };
  // No OpenID Connect provider: the sign-in page offers email and password only.
  for (const name of ['OIDC_ISSUER_URL', 'OIDC_CLIENT_ID', 'OIDC_CLIENT_SECRET', 'OIDC_NAME', 'STORY_USER_DAILY_TOKENS', 'STORY_RATE_BURST']) delete env[name];
  // The embedded SQLite database and the offline storyteller: nothing outside this machine.
  delete env.DATABASE_URL;
  delete env.LLM_BASE_URL;
  Object.assign(env, extraEnv);
  const logFile = createWriteStream(path.join(shotsDir, `${name}.log`));
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

// Sends a GraphQL request as someone: { cookie } (a browser context's session), { token } (an
// API token) or {} (no credentials). Answers the whole response: status, data and errors.
async function gqlAs(auth, query, variables = {}, origin = base) {
  const headers = { 'Content-Type': 'application/json' };
  if (auth.cookie) headers.Cookie = auth.cookie;
  if (auth.token) headers.Authorization = `Bearer ${auth.token}`;
  const res = await fetch(`${origin}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  return { status: res.status, ...(await res.json()) };
}

// Sends a GraphQL request as Ada (or as auth) and answers its data; any error throws.
async function gql(query, variables = {}, auth = ada) {
  const body = await gqlAs(auth, query, variables);
  if (body.errors?.length) throw new Error(`GraphQL error: ${JSON.stringify(body.errors)}`);
  return body.data;
}

const errorCode = (body) => body.errors?.[0]?.extensions?.code;

// The Cookie header that a browser context sends to storybot.
async function cookieHeader(context) {
  return (await context.cookies(base)).map((c) => `${c.name}=${c.value}`).join('; ');
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

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

// Runs axe-core's WCAG 2.1 A/AA rules on the page and fails on serious or critical findings.
// axe goes in through the DevTools protocol: the page's CSP rightly refuses an inline script.
async function expectAccessible(page, label) {
  await page.evaluate(axeSource);
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

// A graphql-ws message as the test keeps it: parsed, with the time it passed.
function wsMessage(frame) {
  try {
    return { at: Date.now(), ...JSON.parse(typeof frame === 'string' ? frame : frame.toString('utf8')) };
  } catch {
    return { at: Date.now(), type: 'unparsed' };
  }
}

// Waits until check() answers something truthy, polling often; answers it.
async function until(check, what, timeout = 15_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = check();
    if (value) return value;
    assert(Date.now() < deadline, `timed out after ${timeout} ms waiting for ${what}`);
    await sleep(20);
  }
}

// The storyStream subscribe messages a socket carried for a story.
const streamSubscribes = (socket, storyID) =>
  socket.sent.filter((m) => m.type === 'subscribe' && m.payload?.operationName === 'StoryStream' && m.payload.variables?.storyID === storyID);

// The events a socket carried for the subscription with that id.
const streamEvents = (socket, id) => socket.received.filter((m) => m.type === 'next' && m.id === id).map((m) => ({ at: m.at, ...m.payload.data.storyStream }));

// Records in the page, as it renders them, every text the story shows (each DOM change, and a
// look every 20 ms besides), until stopStoryTextRecorder. Runs through the DevTools protocol,
// which the page's CSP does not cover.
async function startStoryTextRecorder(page) {
  await page.evaluate(() => {
    const samples = [];
    const record = () => {
      const text = document.querySelector('[data-testid="story-text"]')?.textContent;
      if (text != null && text !== samples.at(-1)?.text) samples.push({ at: Date.now(), text });
    };
    const observer = new MutationObserver(record);
    observer.observe(document.body, { subtree: true, childList: true, characterData: true });
    const timer = setInterval(record, 20);
    record();
    window.__storyTexts = { samples, stop: () => (observer.disconnect(), clearInterval(timer), samples) };
  });
}

const stopStoryTextRecorder = (page) => page.evaluate(() => window.__storyTexts.stop());

// Cuts the websocket that carries story `id` to `who`'s page in the middle of the story (close
// 1012, as a storybot replica restarting), and proves that the page goes on where it was: the
// new socket carries one storyStream subscription for it, made after the cursor of the last
// event the page showed (and with shareToken, if given) and none from the beginning; every text
// the page showed, during and after the reconnect, is a prefix of the stored story and of every
// later one (never shorter, never started over, nothing twice, nothing missing); the text at the
// cut plus the resumed subscription's deltas is exactly the stored text, which the page ends on.
async function expectResumeAfterCut(page, who, id, { shareToken, notice = false } = {}) {
  const live = await until(() => sockets.findLast((s) => s.who === who && !s.cut && streamSubscribes(s, id).length), `${who}'s socket following ${id}`);
  const first = streamSubscribes(live, id).at(-1);
  assert(first.payload.variables.after === undefined, `the first subscription already had after: ${JSON.stringify(first.payload.variables)}`);
  await startStoryTextRecorder(page);
  await until(() => streamEvents(live, first.id).length >= 3, 'a few events before the cut');
  await sleep(700);
  assert((await storyStatus(page)) === 'GENERATING', 'the story ended before the cut: nothing left to resume');

  const cutAt = Date.now();
  live.cut = true;
  await live.ws.close({ code: 1012, reason: 'e2e: connection cut' });
  await live.server.close();
  if (notice) await page.getByText('Connection lost. Reconnecting').waitFor({ timeout: 5_000 });

  // Storybot goes on writing meanwhile; the page subscribes again on a new socket.
  const next = await until(() => sockets.find((s) => s.who === who && s.opened >= cutAt && streamSubscribes(s, id).length), `a new socket carrying ${id}`);
  const resumed = streamSubscribes(next, id)[0];
  await waitForStatus(page, 'COMPLETED', 60_000);
  const samples = await stopStoryTextRecorder(page);
  const stored = await expectTextMatchesServer(page, id);

  // The text shown at the join (the last before the resumed events came) is what the old
  // socket's events add up to at some event: the last shown. Its cursor is the one to resume after.
  const resumedEvents = streamEvents(next, resumed.id);
  assert(resumedEvents.length > 0, 'the resumed subscription brought no events');
  const joinAt = resumedEvents[0].at;
  const atJoin = samples.filter((x) => x.at < joinAt).at(-1)?.text ?? '';
  let held = '';
  let shownCursor = null;
  for (const event of streamEvents(live, first.id)) {
    held += event.delta;
    if (held === atJoin) shownCursor = event.cursor;
  }
  assert(shownCursor, `the text shown at the join (${atJoin.length} chars) is not what the old socket's events add up to at any event`);
  const want = { storyID: id, after: shownCursor, ...(shareToken && { shareToken }) };
  assert(JSON.stringify(resumed.payload.variables) === JSON.stringify(want), `the new subscription was sent with ${JSON.stringify(resumed.payload.variables)}, want ${JSON.stringify(want)}`);
  const later = sockets.filter((s) => s.who === who && s.opened >= cutAt).flatMap((s) => streamSubscribes(s, id));
  assert(later.every((m) => m.payload.variables.after !== undefined), `a subscription from the beginning after the cut: ${JSON.stringify(later.map((m) => m.payload.variables))}`);

  assert(atJoin.length > 0 && atJoin.length < stored.text.length, `cut at ${atJoin.length} of ${stored.text.length} chars: not mid-story`);
  assert(atJoin + resumedEvents.map((e) => e.delta).join('') === stored.text, 'the text at the join and the resumed deltas do not make the stored text');
  for (const [i, sample] of samples.entries()) {
    assert(stored.text.startsWith(sample.text), `shown text #${i} (${sample.text.length} chars, ${sample.at - cutAt} ms after the cut) is not a prefix of the story: …${JSON.stringify(sample.text.slice(-60))}`);
    if (i > 0) assert(sample.text.startsWith(samples[i - 1].text), `shown text #${i} does not go on from the one before`);
  }
  const afterJoin = samples.filter((x) => x.at >= joinAt);
  assert(afterJoin.length >= 5, `only ${afterJoin.length} texts shown after the join`);
  log(
    `       cut at ${atJoin.length}/${stored.text.length} chars; new socket +${next.opened - cutAt} ms, subscribe after the cursor +${resumed.at - cutAt} ms, ` +
      `first resumed event +${joinAt - cutAt} ms, text longer +${afterJoin[0].at - cutAt} ms, completed +${samples.at(-1).at - cutAt} ms`,
  );
  log(`       ${samples.length} texts shown, ${samples.filter((x) => x.at > cutAt).length} after the cut: each a prefix of the next and of the stored story`);
  return stored;
}

// ---------------------------------------------------------------------------------------------
// Browser contexts: one per person

// Reports every Content Security Policy violation a page sees (the browser also logs one to the
// console, which the test reads too). Runs before the page's own scripts.
function watchCsp() {
  document.addEventListener('securitypolicyviolation', (event) => {
    console.warn(`[csp] ${event.violatedDirective} blocked ${event.blockedURI || 'inline'} (${event.sourceFile || location.pathname}:${event.lineNumber})`);
  });
}

// A fresh browser context for a person: offline but for storybot, websockets routed through the
// test, the clipboard allowed, every page watched for errors and CSP violations.
async function newPerson(browser, who, { origin = base, viewport = { width: 1280, height: 860 } } = {}) {
  const context = await browser.newContext({ viewport });
  cleanups.push(() => context.close());
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
  await context.addInitScript(watchCsp);
  await context.routeWebSocket(/\/graphql$/, (ws) => {
    const server = ws.connectToServer();
    // Both directions pass through the test, which keeps every graphql-ws message (parsed, with
    // the time it passed) until the socket is cut: `sent` by the page, `received` from storybot.
    const socket = { who, ws, server, opened: Date.now(), cut: false, sent: [], received: [] };
    ws.onMessage((message) => {
      if (socket.cut) return;
      socket.sent.push(wsMessage(message));
      server.send(message);
    });
    server.onMessage((message) => {
      if (socket.cut) return;
      socket.received.push(wsMessage(message));
      ws.send(message);
    });
    sockets.push(socket);
  });
  // Offline: anything but the storybot under test is refused, so a CDN reference fails loudly.
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
    offsite.push(url);
    return route.abort();
  });
  context.on('page', (page) => {
    page.on('pageerror', (error) => pageErrors.push(`${who} ${page.url()}: ${error.message}`));
    page.on('console', (msg) => {
      const text = msg.text();
      if (text.startsWith('[csp]') || /Content Security Policy/i.test(text)) cspViolations.push(`${who} ${page.url()}: ${text}`);
      else if (msg.type() === 'error') log(`  [${who} console] ${text}`);
    });
  });
  return context;
}

// Signs up on the sign-in page that a visitor without a session sees.
async function signUp(page, person, origin = base) {
  await page.goto(origin);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.getByRole('link', { name: 'Create one' }).click();
  await page.getByRole('heading', { name: 'Create your account' }).waitFor();
  await page.getByLabel('Email').fill(person.email);
  await page.getByLabel('Password').fill(person.password);
  if (person.name) await page.getByLabel(/Name/).fill(person.name);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('heading', { name: /^Prompts/ }).waitFor();
  person.cookie = (await page.context().cookies(origin)).map((c) => `${c.name}=${c.value}`).join('; ');
}

async function openAccountMenu(page) {
  const button = page.getByRole('button', { name: /^Account:/ });
  if ((await button.getAttribute('aria-expanded')) !== 'true') await button.click();
  return page.getByRole('region', { name: 'Account' });
}

async function closeAccountMenu(page) {
  await page.keyboard.press('Escape');
  await page.getByRole('region', { name: 'Account' }).waitFor({ state: 'detached' });
}

// Today's tokens as the account menu shows them ("1,234 of 10,000", "1,234 (no limit)").
const usedTokens = async (page) => Number(((await page.getByTestId('usage-tokens').textContent()) ?? '').split(' ')[0].replace(/\D/g, '') || NaN);

// Runs the subscription in GraphiQL and checks that its events keep coming: the response's seq rises.
async function expectPlaygroundStream(pg) {
  const response = pg.locator('.graphiql-response');
  const seqOf = async () => Number((await response.innerText()).match(/"seq":\s*(\d+)/)?.[1] ?? -1);
  await pg.waitForFunction(() => /"seq"/.test(document.querySelector('.graphiql-response')?.textContent ?? ''), null, { timeout: 20_000 });
  const first = await seqOf();
  await sleep(1_500);
  const later = await seqOf();
  assert(later > first, `GraphiQL showed no new events: seq ${first} then ${later}; response: ${(await response.innerText()).slice(0, 300)}`);
  return [first, later];
}

// ---------------------------------------------------------------------------------------------
// The scenario

async function scenario(browser, workDir) {
  const adaContext = await newPerson(browser, 'ada');
  const page = await adaContext.newPage();
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

  await step('pages carry the security headers: a strict CSP, no referrer, no framing', page, async () => {
    for (const target of ['/', '/s/some-share-token', '/playground', '/signin?error=state']) {
      const res = await fetch(`${base}${target}`);
      const csp = res.headers.get('content-security-policy') ?? '';
      const directives = Object.fromEntries(csp.split(';').map((d) => d.trim().split(/\s+/)).filter((d) => d[0]).map(([name, ...v]) => [name, v]));
      assert(directives['script-src']?.join(' ') === "'self'", `${target}: script-src ${directives['script-src']} (CSP: ${csp || 'none'})`);
      assert(!csp.includes('unsafe-eval'), `${target}: the CSP allows eval: ${csp}`);
      for (const [name, want] of [['frame-ancestors', "'none'"], ['base-uri', "'none'"], ['object-src', "'none'"]]) {
        assert(directives[name]?.join(' ') === want, `${target}: ${name} ${directives[name]}, want ${want}`);
      }
      assert(directives['connect-src']?.includes("'self'"), `${target}: connect-src ${directives['connect-src']}`);
      assert(res.headers.get('referrer-policy') === 'no-referrer', `${target}: Referrer-Policy ${res.headers.get('referrer-policy')}`);
      assert(res.headers.get('x-frame-options') === 'DENY', `${target}: X-Frame-Options ${res.headers.get('x-frame-options')}`);
      assert(res.headers.get('x-content-type-options') === 'nosniff', `${target}: X-Content-Type-Options ${res.headers.get('x-content-type-options')}`);
    }
    const api = await fetch(`${base}/graphql`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"query":"{ __typename }"}' });
    if (!api.headers.get('content-security-policy')) log('       note: /graphql answers without the security headers (the server does not wrap its mux in web.SecurityHeaders yet)');
  });

  await step('the browser enforces the CSP, and the test hears of each violation', page, async () => {
    await page.goto(base);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    const ran = await page.evaluate(async () => {
      window.inlineRan = false;
      const script = document.createElement('script');
      script.textContent = 'window.inlineRan = true';
      document.head.append(script);
      await new Promise((resolve) => setTimeout(resolve, 200));
      return window.inlineRan;
    });
    assert(ran === false, 'an inline script ran');
    const deadline = Date.now() + 5_000;
    while (!cspViolations.some((v) => v.includes('script-src')) && Date.now() < deadline) await sleep(100);
    assert(cspViolations.some((v) => v.includes('script-src')), `the blocked inline script was not reported: ${cspViolations.join('; ')}`);
    // That one was the test's own doing; from here on, none is expected.
    cspViolations.length = 0;
  });

  await step('a visitor without an account sees the sign-in page, and the API refuses them', page, async () => {
    await page.goto(base);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert((await page.getByRole('link', { name: /Sign in with/ }).count()) === 0, 'a "Sign in with" button without a provider');
    const body = await gqlAs({}, '{ prompts(first: 1) { totalCount } }');
    assert(errorCode(body) === 'UNAUTHENTICATED', `prompts without credentials: ${JSON.stringify(body)}`);
    const wrong = await gqlAs({}, 'mutation { signIn(input: { email: "nobody@example.com", password: "not the one" }) { id } }');
    assert(errorCode(wrong) === 'UNAUTHENTICATED', `a wrong sign-in: ${JSON.stringify(wrong)}`);
    await page.getByLabel('Email').fill('nobody@example.com');
    await page.getByLabel('Password').fill('not the one');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('auth-error').getByText('Wrong email or password.').waitFor();
    await shot(page, '00-sign-in');
  });

  await step('the first account signs up, becomes the admin, and its session is an HttpOnly cookie', page, async () => {
    await signUp(page, ada);
    await page.getByText('No prompts yet').waitFor();
    const session = (await adaContext.cookies(base)).find((c) => c.httpOnly);
    assert(session, `no HttpOnly session cookie: ${JSON.stringify(await adaContext.cookies(base))}`);
    assert(session.sameSite === 'Lax', `session cookie SameSite=${session.sameSite}`);
    assert(!(await page.evaluate(() => document.cookie)).includes(session.value), 'the page can read the session cookie');
    const menu = await openAccountMenu(page);
    await menu.getByText(ada.email).waitFor();
    assert((await menu.getByTestId('account-role').textContent()) === 'Administrator', 'the first account is not the admin');
    await menu.getByTestId('usage-tokens').getByText('(no limit)').waitFor();
    await shot(page, '01-signed-up-account-menu');
    await closeAccountMenu(page);
    const taken = await gqlAs({}, 'mutation($e: String!) { signUp(input: { email: $e, password: "whatever123" }) { id } }', { e: ada.email });
    assert(errorCode(taken) === 'BAD_USER_INPUT', `signing up with a taken email: ${JSON.stringify(taken)}`);
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
  let tokensBefore = 0;
  await step('a story is generated and its tokens arrive live', page, async () => {
    await page.getByRole('button', { name: 'Generate story' }).click();
    await page.locator('article.story').waitFor();
    completedId = openStoryId(page);
    assert(completedId, 'the story id is not in the address');
    await page.locator('article.story[data-status="GENERATING"]').waitFor({ timeout: 20_000 });
    const lengths = await expectGrowingText(page);
    log(`       text length while streaming: ${lengths.join(' → ')}`);
    // The account menu stays open while the story is written: its usage must follow by itself.
    await openAccountMenu(page);
    await page.getByTestId('usage-running').getByText(/^[1-9]/).waitFor({ timeout: 5_000 });
    tokensBefore = await usedTokens(page);
    await shot(page, '04-streaming');
  });

  await step('the story completes, the text shown equals the stored text, and the usage counts it', page, async () => {
    await waitForStatus(page, 'COMPLETED');
    const stored = await expectTextMatchesServer(page, completedId);
    assert(stored.status === 'COMPLETED', `stored status ${stored.status}`);
    assert(stored.text.length > 100, `a suspiciously short story: ${JSON.stringify(stored.text)}`);
    await page.locator(`.stories li[data-story-id="${completedId}"]`, { hasText: 'Completed' }).waitFor();
    // Refreshed when the story finished, with the menu left open the whole time.
    await page.waitForFunction((before) => {
      const n = Number((document.querySelector('[data-testid="usage-tokens"]')?.textContent ?? '').replace(/\s.*$/, '').replace(/\D/g, ''));
      return n > before;
    }, tokensBefore, { timeout: 10_000 });
    const { viewer } = await gql('{ viewer { usage { tokensToday } } }');
    assert((await usedTokens(page)) === viewer.usage.tokensToday, `the menu shows ${await usedTokens(page)} tokens, the server ${viewer.usage.tokensToday}`);
    log(`       tokens today: ${tokensBefore} → ${viewer.usage.tokensToday}`);
    await shot(page, '05-completed-usage');
    await closeAccountMenu(page);
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

  let droppedId = '';
  await step('a websocket cut mid-story reconnects by itself, and the story goes on after the last cursor shown: never shorter, nothing twice, nothing missing', page, async () => {
    await page.getByRole('button', { name: 'Generate story' }).click();
    await page.waitForFunction((prev) => new URL(location.href).searchParams.get('story') !== prev, liveId);
    droppedId = openStoryId(page);
    await page.locator(`article.story[data-story-id="${droppedId}"][data-status="GENERATING"]`).waitFor({ timeout: 20_000 });
    await page.waitForFunction(() => (document.querySelector('[data-testid="story-text"]')?.textContent ?? '').length > 40);
    await expectResumeAfterCut(page, 'ada', droppedId, { notice: true });
    await shot(page, '08-resumed-after-cut');
  });

  const visitorContext = await newPerson(browser, 'visitor');
  const visitor = await visitorContext.newPage();
  let shareUrl = '';
  let sharedId = '';
  await step('a story shared while it is being written streams live to a visitor without an account', page, async () => {
    await page.getByRole('button', { name: 'Generate story' }).click();
    await page.waitForFunction((prev) => new URL(location.href).searchParams.get('story') !== prev, droppedId);
    sharedId = openStoryId(page);
    await page.locator(`article.story[data-story-id="${sharedId}"][data-status="GENERATING"]`).waitFor({ timeout: 20_000 });
    await page.getByRole('button', { name: 'Share', exact: true }).click();
    const link = page.getByLabel('Share link');
    await link.waitFor();
    shareUrl = await link.inputValue();
    assert(new RegExp(`^${base}/s/[^/?#]+$`).test(shareUrl), `share link ${shareUrl} is not ${base}/s/<token>`);
    await page.getByRole('button', { name: 'Copy link' }).click();
    await page.getByRole('button', { name: 'Copied' }).waitFor();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    assert(copied === shareUrl, `the clipboard holds ${copied}, not the link`);
    await shot(page, '09-shared');

    await visitor.goto(shareUrl);
    await visitor.locator('.prompt-quote', { hasText: promptText }).waitFor();
    await visitor.locator(`article.story[data-story-id="${sharedId}"][data-status="GENERATING"]`).waitFor({ timeout: 20_000 });
    const lengths = await expectGrowingText(visitor, 5);
    log(`       shared story text while streaming: ${lengths.join(' → ')}`);
    for (const name of ['Generate story', 'Cancel story', 'Share', 'Stop sharing', 'Add prompt']) {
      assert((await visitor.getByRole('button', { name, exact: true }).count()) === 0, `the shared page offers "${name}"`);
    }
    assert((await visitor.getByRole('button', { name: /^Delete/ }).count()) === 0, 'the shared page offers Delete');
    assert(sockets.some((s) => s.who === 'visitor'), 'the visitor followed the story without a websocket');
    await shot(visitor, '10-shared-page-streaming');
    await waitForStatus(visitor, 'COMPLETED');
    const stored = await expectTextMatchesServer(visitor, sharedId);
    // Finished, it is still read-only, and downloads with the share token (the visitor has no cookie).
    for (const name of ['Continue story', 'Regenerate', 'Rename']) {
      assert((await visitor.getByRole('button', { name, exact: true }).count()) === 0, `the shared page offers "${name}"`);
    }
    const [download] = await Promise.all([visitor.waitForEvent('download'), visitor.getByRole('link', { name: 'Download Markdown' }).click()]);
    assert(download.url().includes(`/stories/${sharedId}.md?share=`), `the shared page downloads from ${download.url()}`);
    assert(readFileSync(await download.path(), 'utf8').includes(stored.text), "the shared page's Markdown does not hold the story");
    await expectAccessible(visitor, 'a shared story');
  });

  await step('a share page whose websocket is cut mid-story goes on after the last cursor shown, with its share token', page, async () => {
    const { generateStory } = await gql('mutation($id: ID!) { generateStory(input: { promptID: $id, maxTokens: 4096 }) { id } }', { id: promptId });
    const { shareStory } = await gql('mutation($id: ID!) { shareStory(id: $id) { shareToken } }', { id: generateStory.id });
    await visitor.goto(`${base}/s/${shareStory.shareToken}`);
    await visitor.locator(`article.story[data-story-id="${generateStory.id}"][data-status="GENERATING"]`).waitFor({ timeout: 20_000 });
    await visitor.waitForFunction(() => (document.querySelector('[data-testid="story-text"]')?.textContent ?? '').length > 40);
    await expectResumeAfterCut(visitor, 'visitor', generateStory.id, { shareToken: shareStory.shareToken });
    await shot(visitor, '10b-shared-page-resumed-after-cut');
  });

  await step('a visitor without an account sees nothing else: the app asks them to sign in', page, async () => {
    await visitor.goto(`${base}/?${new URLSearchParams({ prompt: promptId, story: sharedId })}`);
    await visitor.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert(!(await visitor.content()).includes(promptText), 'the sign-in page shows the prompt');
  });

  await step('a link no longer shared shows nothing', page, async () => {
    await page.getByRole('button', { name: 'Stop sharing' }).click();
    await page.getByRole('button', { name: 'Share', exact: true }).waitFor();
    await visitor.goto(shareUrl);
    await visitor.getByText('This link does not share anything (any more)').waitFor();
    assert(!(await visitor.content()).includes(promptText), 'the withdrawn link still shows the prompt');
    await shot(visitor, '11-share-withdrawn');
  });

  await step('a prompt is deleted', page, async () => {
    const doomed = 'A prompt that is about to be deleted';
    await page.getByLabel('New prompt').fill(doomed);
    await page.getByRole('button', { name: 'Add prompt' }).click();
    await page.getByRole('button', { name: new RegExp(`^${doomed}`) }).waitFor();
    await page.getByRole('button', { name: `Delete prompt: ${doomed}` }).click();
    await page.getByRole('dialog', { name: 'Delete this prompt?' }).getByRole('button', { name: 'Delete prompt', exact: true }).click();
    await expectToast(page, 'Prompt deleted.');
    await page.getByRole('button', { name: new RegExp(`^${doomed}`) }).waitFor({ state: 'detached' });
    const { prompts } = await gql('{ prompts(first: 100) { edges { node { content } } } }');
    assert(!prompts.edges.some((e) => e.node.content === doomed), 'the prompt is still stored');
    await shot(page, '12-prompt-deleted');
  });

  await step('a failed request shows an error toast with its trace ID', page, async () => {
    const ghost = 'A prompt deleted behind the page’s back';
    // The new prompt opens, and the page loads it (PromptWithStories). It is deleted behind the
    // page's back only after that answer: deleted while the load is on its way, the page learns
    // from the answer that it is gone and drops its row (as it should), and there is no Delete
    // button left to fail with.
    const loaded = [];
    const onLoaded = (req) => {
      const body = req.postData() ?? '';
      if (req.url().startsWith(`${base}/graphql`) && body.includes('PromptWithStories')) loaded.push(JSON.parse(body).variables?.id);
    };
    page.on('requestfinished', onLoaded);
    let id;
    try {
      await page.getByLabel('New prompt').fill(ghost);
      await page.getByRole('button', { name: 'Add prompt' }).click();
      await page.getByRole('button', { name: new RegExp(`^${ghost}`) }).waitFor();
      const { prompts } = await gql('{ prompts(first: 100) { edges { node { id content } } } }');
      id = prompts.edges.find((e) => e.node.content === ghost)?.node.id;
      await until(() => loaded.includes(id), `the page's PromptWithStories answer for ${id}`);
    } finally {
      page.off('requestfinished', onLoaded);
    }
    await gql('mutation($id: ID!) { deletePrompt(id: $id) }', { id });
    const response = page.waitForResponse((res) => res.url().startsWith(`${base}/graphql`) && (res.request().postData() ?? '').includes('DeletePrompt'));
    await page.getByRole('button', { name: `Delete prompt: ${ghost}` }).click();
    await page.getByRole('dialog').getByRole('button', { name: /^Delete prompt/ }).click();
    const headerTraceId = (await response).headers()['x-trace-id'];
    const toast = page.locator('[data-testid="toast"]', { hasText: 'Could not delete the prompt' });
    await toast.waitFor({ timeout: 10_000 });
    const traceId = (await toast.locator('.toast-trace code').textContent())?.trim();
    assert(traceId, 'the error toast shows no trace ID');
    assert(headerTraceId, 'the failed response has no X-Trace-Id header');
    assert(headerTraceId === traceId, `toast trace ID ${traceId} differs from X-Trace-Id ${headerTraceId}`);
    log(`       error toast trace ID: ${traceId}`);
    await shot(page, '13-error-toast-trace-id');
    await toast.getByRole('button', { name: 'Dismiss message' }).click();
    await page.getByRole('button', { name: new RegExp(`^${ghost}`) }).waitFor({ state: 'detached' });
  });

  await step('deleting asks first, naming the stories that go too; a double-click deletes nothing, and rows do not slide under the pointer', page, async () => {
    const doomed = 'A prompt with two stories, about to go';
    const neighbour = 'A neighbour of the prompt about to go';
    for (const text of [neighbour, doomed]) {
      await page.getByLabel('New prompt').fill(text);
      await page.getByRole('button', { name: 'Add prompt' }).click();
      await page.getByRole('button', { name: new RegExp(`^${text}`) }).waitFor();
    }
    // Two stories, started behind the page's back: the question reads the count again.
    const { prompts } = await gql('{ prompts(first: 100) { edges { node { id content } } } }');
    const id = prompts.edges.find((e) => e.node.content === doomed).node.id;
    const storyIds = [];
    for (let i = 0; i < 2; i++) {
      const { generateStory } = await gql('mutation($id: ID!) { generateStory(input: { promptID: $id }) { id } }', { id });
      await gql('mutation($id: ID!) { cancelStory(id: $id) { id } }', { id: generateStory.id });
      storyIds.push(generateStory.id);
    }
    const deletes = [];
    const onRequest = (req) => {
      if ((req.postData() ?? '').includes('DeletePrompt')) deletes.push(req);
    };
    page.on('request', onRequest);
    try {
      const button = page.getByRole('button', { name: `Delete prompt: ${doomed}` });
      // A double-click: the first click asks, the second lands on the question and answers nothing.
      await button.dblclick();
      const dialog = page.getByRole('dialog', { name: 'Delete this prompt and its 2 stories?' });
      await dialog.waitFor();
      await dialog.getByText(doomed).waitFor();
      await shot(page, '13a-delete-confirmation');
      await sleep(400);
      assert(deletes.length === 0, 'a double-click on Delete sent deletePrompt');
      assert(await dialog.isVisible(), 'the question closed by itself');
      await dialog.getByRole('button', { name: 'Keep it' }).click();
      await dialog.waitFor({ state: 'detached' });
      assert((await gql('query($id: ID!) { node(id: $id) { id } }', { id })).node?.id === id, 'the prompt went although it was kept');

      // Confirmed with the pointer: the deleted row's space stays while the pointer is over the list.
      const box = await button.boundingBox();
      const spot = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
      await button.click();
      await dialog.getByRole('button', { name: 'Delete prompt and 2 stories' }).click();
      await page.mouse.move(spot.x, spot.y);
      await expectToast(page, 'Prompt deleted.');
      await page.getByRole('button', { name: new RegExp(`^${doomed}`) }).waitFor({ state: 'detached' });
      const under = await page.evaluate(({ x, y }) => {
        const el = document.elementFromPoint(x, y);
        return el?.closest('[data-testid="deleted-gap"]') ? 'gap' : (el?.closest('button')?.getAttribute('aria-label') ?? el?.tagName ?? 'nothing');
      }, spot);
      assert(under === 'gap', `after the delete, the pointer is over ${under}, not the deleted row's kept space`);
      await shot(page, '13b-deleted-row-space-kept');
      await page.mouse.move(1200, 20);
      await page.getByTestId('deleted-gap').waitFor({ state: 'detached' });
      assert(deletes.length === 1, `expected one deletePrompt, saw ${deletes.length}`);
    } finally {
      page.off('request', onRequest);
    }
    await page.getByRole('button', { name: new RegExp(`^${neighbour}`) }).waitFor();
    const gone = await gqlAs(ada, 'query($p: ID!, $a: ID!, $b: ID!) { p: node(id: $p) { id } a: node(id: $a) { id } b: node(id: $b) { id } }', { p: id, a: storyIds[0], b: storyIds[1] });
    assert(!gone.data?.p && !gone.data?.a && !gone.data?.b, `the prompt or its stories are still stored: ${JSON.stringify(gone.data)}`);
  });

  await step('a prompt deleted in one tab disappears from another when it generates for it, with a readable message', page, async () => {
    const stale = 'A prompt deleted in the other tab';
    await page.getByLabel('New prompt').fill(stale);
    await page.getByRole('button', { name: 'Add prompt' }).click();
    await page.locator('.prompt-quote', { hasText: stale }).waitFor();
    const staleId = new URL(page.url()).searchParams.get('prompt');
    const other = await adaContext.newPage();
    await other.goto(`${base}/?${new URLSearchParams({ prompt: staleId })}`);
    await other.locator('.prompt-quote', { hasText: stale }).waitFor();
    const countBefore = Number(await other.locator('#prompts-heading .count').textContent());

    // Deleted in the first tab, after its question.
    await page.getByRole('button', { name: `Delete prompt: ${stale}` }).click();
    await page.getByRole('dialog', { name: 'Delete this prompt?' }).getByRole('button', { name: 'Delete prompt', exact: true }).click();
    await expectToast(page, 'Prompt deleted.');

    // The second tab still shows it, until it tries to use it.
    await other.getByRole('button', { name: 'Generate story' }).click();
    const toast = other.locator('[data-testid="toast"]', { hasText: 'Could not start a story' });
    await toast.waitFor({ timeout: 10_000 });
    const message = (await toast.locator('.toast-message').textContent()) ?? '';
    assert(message.startsWith('Could not start a story: This prompt no longer exists'), `the message reads: ${message}`);
    assert(!/input:|generateStory/.test(message), `the message carries the server's location prefix: ${message}`);
    await other.getByRole('button', { name: new RegExp(`^${stale}`) }).waitFor({ state: 'detached' });
    await other.getByRole('heading', { name: 'Write a prompt, get a story' }).waitFor();
    const countAfter = Number(await other.locator('#prompts-heading .count').textContent());
    assert(countAfter === countBefore - 1, `the other tab counts ${countAfter} prompts, expected ${countBefore - 1}`);
    assert(!new URL(other.url()).searchParams.has('prompt'), `the other tab still has the prompt open: ${other.url()}`);
    await shot(other, '13c-stale-prompt-gone');
    await other.close();
  });

  await step('a prompt is edited in place; an empty one and one the server refuses are explained under the field', page, async () => {
    await page.getByRole('button', { name: new RegExp(`^${promptText}`) }).click();
    await page.locator('.prompt-quote', { hasText: promptText }).waitFor();
    const detail = page.locator('.prompt-detail');
    await detail.getByRole('button', { name: 'Edit' }).click();
    const field = page.getByLabel('Prompt text');
    assert((await field.inputValue()) === promptText, 'the editor does not start from the prompt');
    await field.fill('   ');
    await detail.getByRole('button', { name: 'Save' }).click();
    await page.getByTestId('edit-error').getByText('cannot be empty').waitFor();
    // A control character: the server refuses it with BAD_USER_INPUT, said as it said it.
    await field.fill('A bell \u0007 that rings');
    await detail.getByRole('button', { name: 'Save' }).click();
    const refusal = (await page.getByTestId('edit-error').filter({ hasText: 'Not saved' }).textContent()) ?? '';
    assert(/^Not saved: Invalid content: must not contain the control character/.test(refusal), `the refusal reads: ${refusal}`);
    assert(!refusal.includes('input:'), `the refusal carries a location prefix: ${refusal}`);
    await shot(page, '13d-edit-refused');
    const edited = `${promptText}, and lends them to strangers`;
    await field.fill(edited);
    await field.press('Control+Enter');
    await expectToast(page, 'Prompt saved.');
    await page.locator('.prompt-quote', { hasText: edited }).waitFor();
    await page.getByRole('button', { name: new RegExp(`^${edited}`) }).waitFor();
    const { node } = await gql('query($id: ID!) { node(id: $id) { ... on Prompt { content } } }', { id: promptId });
    assert(node.content === edited, `stored content: ${node.content}`);
    // Back as it was, for the steps that follow.
    await detail.getByRole('button', { name: 'Edit' }).click();
    await page.getByLabel('Prompt text').fill(promptText);
    await detail.getByRole('button', { name: 'Save' }).click();
    await page.locator('.prompt-quote', { hasText: promptText }).filter({ hasNotText: 'strangers' }).waitFor();
  });

  // Personalised stories: options on the prompt (remembered for the next one) and per story,
  // a title (given, then renamed), Continue with an instruction, Regenerate, and the downloads.
  const craftText = 'A lighthouse keeper who teaches the fog to sing';
  const craftOptions = { audience: 'CHILDREN', genre: 'fairy tale', tone: 'gentle', length: 'SHORT', language: 'en' };
  let craftPromptId = '';
  let craftId = '';
  await step('a prompt is written with story options, which are remembered for the next prompt', page, async () => {
    const form = page.locator('form[aria-label="Add a prompt"]');
    await form.getByLabel('New prompt').fill(craftText);
    await form.locator('summary', { hasText: 'Story options' }).click();
    await form.getByLabel('Audience').selectOption('CHILDREN');
    await form.getByLabel('Genre').fill(craftOptions.genre);
    await form.getByLabel('Tone').fill(craftOptions.tone);
    await form.getByLabel('Length').selectOption('SHORT');
    await form.getByLabel('Language').fill(craftOptions.language);
    await expectAccessible(page, 'the prompt form with its story options open');
    await shot(page, '13f-prompt-options');
    await form.getByRole('button', { name: 'Add prompt' }).click();
    await expectToast(page, 'Prompt added.');
    await page.locator('.prompt-quote', { hasText: craftText }).waitFor();
    craftPromptId = new URL(page.url()).searchParams.get('prompt');
    await page.locator('.prompt-options', { hasText: 'for children · fairy tale · gentle tone · short · in English (en)' }).waitFor();
    const { node } = await gql('query($id: ID!) { node(id: $id) { ... on Prompt { options { audience genre tone length language } } } }', { id: craftPromptId });
    assert(JSON.stringify(node.options) === JSON.stringify(craftOptions), `stored options: ${JSON.stringify(node.options)}`);
    // Remembered: a reload starts the next prompt with the same options.
    await page.reload();
    await page.locator('.prompt-quote', { hasText: craftText }).waitFor();
    const remembered = page.locator('form[aria-label="Add a prompt"]');
    assert((await remembered.getByLabel('Audience').inputValue()) === 'CHILDREN', 'the audience was not remembered');
    assert((await remembered.getByLabel('Genre').inputValue()) === 'fairy tale', 'the genre was not remembered');
    assert((await remembered.locator('summary').textContent()).includes('for children'), `summary: ${await remembered.locator('summary').textContent()}`);
  });

  await step("a story overrides one of its prompt's options, streams, and gets a title", page, async () => {
    const detail = page.locator('.prompt-detail');
    await detail.locator('summary', { hasText: 'Options for the next story' }).click();
    assert((await detail.getByLabel('Tone').inputValue()) === 'gentle', "the story's options do not start from the prompt's");
    await detail.getByLabel('Tone').fill('suspenseful');
    await detail.locator('summary', { hasText: '(changed)' }).waitFor();
    const generated = page.waitForRequest((req) => (req.postData() ?? '').includes('"operationName":"GenerateStory"'));
    await detail.getByRole('button', { name: 'Generate story' }).click();
    const vars = (await generated).postDataJSON().variables;
    assert(JSON.stringify(vars.options) === JSON.stringify({ tone: 'suspenseful' }), `generateStory sent options ${JSON.stringify(vars.options)}: only the change should go`);
    await page.locator('article.story[data-status="GENERATING"]').waitFor({ timeout: 20_000 });
    craftId = openStoryId(page);
    await waitForStatus(page, 'COMPLETED', 60_000);
    const { node } = await gql('query($id: ID!) { node(id: $id) { ... on Story { title text options { audience genre tone length language } } } }', { id: craftId });
    assert(JSON.stringify(node.options) === JSON.stringify({ ...craftOptions, tone: 'suspenseful' }), `story options: ${JSON.stringify(node.options)}`);
    assert(node.text.startsWith('Once upon a time'), `a story for children begins otherwise: ${node.text.slice(0, 60)}`);
    await page.locator('article.story').getByText(/Options: for children · fairy tale · suspenseful tone · short/).waitFor();
    // The title comes soon after the end, and shows as the story's heading and in the list.
    const heading = page.getByTestId('story-title');
    await page.waitForFunction(() => (document.querySelector('[data-testid="story-title"]')?.textContent ?? 'Story') !== 'Story', null, { timeout: 15_000 });
    const { node: titled } = await gql('query($id: ID!) { node(id: $id) { ... on Story { title } } }', { id: craftId });
    assert(titled.title && (await heading.textContent()) === titled.title, `heading ${await heading.textContent()}, stored title ${titled.title}`);
    await page.locator(`.stories li[data-story-id="${craftId}"]`, { hasText: titled.title }).waitFor();
    log(`       title: ${titled.title}`);
  });

  const craftTitle = 'The Fog That Learned to Sing';
  await step('the owner renames the story', page, async () => {
    const story = page.locator('article.story');
    await story.getByRole('button', { name: 'Rename' }).click();
    const field = story.getByLabel('Title');
    await field.fill(craftTitle);
    await field.press('Enter');
    await expectToast(page, 'Title saved.');
    await page.getByTestId('story-title').getByText(craftTitle, { exact: true }).waitFor();
    await page.locator(`.stories li[data-story-id="${craftId}"]`, { hasText: craftTitle }).waitFor();
    const { node } = await gql('query($id: ID!) { node(id: $id) { ... on Story { title } } }', { id: craftId });
    assert(node.title === craftTitle, `stored title ${node.title}`);
  });

  await step('a finished story is continued with an instruction: the new text streams on after what was shown, never starting over', page, async () => {
    const before = await storyText(page);
    const clickedAt = Date.now();
    await startStoryTextRecorder(page);
    const story = page.locator('article.story');
    await story.getByLabel(/What happens next/).fill('A letter answers back.');
    const continued = page.waitForRequest((req) => (req.postData() ?? '').includes('"operationName":"ContinueStory"'));
    await story.getByRole('button', { name: 'Continue story' }).click();
    const vars = (await continued).postDataJSON().variables;
    assert(vars.input?.instruction === 'A letter answers back.', `continueStory sent ${JSON.stringify(vars)}`);
    await page.locator(`article.story[data-story-id="${craftId}"][data-status="GENERATING"]`).waitFor({ timeout: 20_000 });
    await expectGrowingText(page, 4, 300);
    await waitForStatus(page, 'COMPLETED', 60_000);
    const samples = await stopStoryTextRecorder(page);
    const stored = await expectTextMatchesServer(page, craftId);
    assert(stored.text.startsWith(before) && stored.text.length > before.length, `the stored text does not go on from the ${before.length} chars shown before`);
    for (const [i, sample] of samples.entries()) {
      assert(sample.text.startsWith(before), `shown text #${i} (${sample.text.length} chars) lost the text from before the continuation`);
      assert(stored.text.startsWith(sample.text), `shown text #${i} is not a prefix of the story`);
      if (i > 0) assert(sample.text.startsWith(samples[i - 1].text), `shown text #${i} does not go on from the one before`);
    }
    // Followed by cursor: the continuation's subscription starts after the end the page had seen.
    const after = sockets.filter((s) => s.who === 'ada').flatMap((s) => streamSubscribes(s, craftId)).filter((m) => m.at >= clickedAt);
    assert(after.length >= 1 && after.every((m) => typeof m.payload.variables.after === 'string'), `the continuation was followed with ${JSON.stringify(after.map((m) => m.payload.variables))}`);
    assert((await page.getByTestId('story-title').textContent()) === craftTitle, 'the title changed with the continuation');
    log(`       ${before.length} → ${stored.text.length} chars, ${samples.length} texts shown, each going on from the one before`);
    await expectAccessible(page, 'a finished story with its title, options, Continue, Regenerate and downloads');
    await shot(page, '13g-continued');
  });

  await step('the story downloads as Markdown (title, prompt, text) and as EPUB (a zip whose first entry is the mimetype)', page, async () => {
    const story = page.locator('article.story');
    const { node } = await gql('query($id: ID!) { node(id: $id) { ... on Story { text } } }', { id: craftId });
    const fetchDownload = async (name) => {
      const [download] = await Promise.all([page.waitForEvent('download'), story.getByRole('link', { name }).click()]);
      return { name: download.suggestedFilename(), body: readFileSync(await download.path()) };
    };
    const md = await fetchDownload('Download Markdown');
    const markdown = md.body.toString('utf8');
    assert(md.name.endsWith('.md'), `the Markdown file is named ${md.name}`);
    assert(markdown.includes(craftTitle), `the Markdown has no title: ${markdown.slice(0, 200)}`);
    assert(markdown.includes(craftText), 'the Markdown does not quote the prompt');
    assert(markdown.includes(node.text), 'the Markdown does not hold the story text exactly');
    const epub = await fetchDownload('Download EPUB');
    const b = epub.body;
    assert(epub.name.endsWith('.epub'), `the EPUB file is named ${epub.name}`);
    assert(b.readUInt32LE(0) === 0x04034b50, 'the EPUB is not a zip (no local file header first)');
    const nameLength = b.readUInt16LE(26);
    const extraLength = b.readUInt16LE(28);
    const first = b.subarray(30, 30 + nameLength).toString('latin1');
    const stored = b.readUInt16LE(8) === 0;
    const content = b.subarray(30 + nameLength + extraLength, 30 + nameLength + extraLength + 20).toString('latin1');
    assert(first === 'mimetype' && stored && content === 'application/epub+zip', `the EPUB's first entry is ${first} (stored: ${stored}): ${content}`);
    log(`       ${md.name} (${md.body.length} bytes), ${epub.name} (${b.length} bytes)`);
  });

  await step('Regenerate writes a new version with the same options; the prompt lists both versions', page, async () => {
    await page.locator('article.story').getByRole('button', { name: 'Regenerate' }).click();
    await page.waitForFunction((prev) => new URL(location.href).searchParams.get('story') !== prev, craftId);
    const versionId = openStoryId(page);
    await page.locator(`article.story[data-story-id="${versionId}"]`).waitFor();
    await expectToast(page, 'A new version is being written.');
    const rows = page.locator('.stories li');
    await page.locator(`.stories li[data-story-id="${versionId}"]`).waitFor();
    await page.locator(`.stories li[data-story-id="${craftId}"]`, { hasText: craftTitle }).waitFor();
    assert((await rows.count()) === 2, `expected 2 versions in the list, found ${await rows.count()}`);
    await page.locator('.story-list h3', { hasText: '2' }).waitFor();
    const { node } = await gql(
      'query($id: ID!) { node(id: $id) { ... on Prompt { stories(first: 5) { totalCount edges { node { id options { audience genre tone length language } } } } } } }',
      { id: craftPromptId },
    );
    assert(node.stories.totalCount === 2, `the prompt has ${node.stories.totalCount} stories`);
    const version = node.stories.edges.find((e) => e.node.id === versionId)?.node;
    assert(JSON.stringify(version?.options) === JSON.stringify({ ...craftOptions, tone: 'suspenseful' }), `the new version's options: ${JSON.stringify(version?.options)}`);
    await waitForStatus(page, 'COMPLETED', 60_000);
    await shot(page, '13h-versions');
  });

  await step('the prompt box counts, warns before the limit, and says so when a paste was cut', page, async () => {
    const field = page.getByLabel('New prompt');
    const counter = page.locator('form[aria-label="Add a prompt"]').getByTestId('char-counter');
    await field.fill('x'.repeat(3700));
    assert((await counter.getAttribute('data-level')) === 'near', `the counter does not warn at 3,700: ${await counter.textContent()}`);
    assert((await counter.textContent()).includes('3,700 / 4,000 characters · 300 left'), `counter: ${await counter.textContent()}`);
    await field.fill('');
    const pasted = `${'A very long paste. '.repeat(263)}The end.`.slice(0, 5000);
    await page.evaluate((text) => navigator.clipboard.writeText(text), pasted);
    await field.focus();
    await page.keyboard.press('Control+V');
    const warning = page.getByTestId('cut-warning');
    await warning.waitFor();
    const said = (await warning.textContent()) ?? '';
    assert(said.includes('only its first 4,000 of 5,000 characters were added'), `the warning reads: ${said}`);
    assert((await field.inputValue()).length === 4000, `the field holds ${(await field.inputValue()).length} characters`);
    assert((await counter.textContent()).includes('4,000 / 4,000 characters · limit reached'), `counter: ${await counter.textContent()}`);
    await shot(page, '13e-paste-cut');
    await field.fill('');
    await warning.waitFor({ state: 'detached' });
  });

  await step('the app fits a phone-width screen', page, async () => {
    const phone = await adaContext.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(`${base}/?${new URLSearchParams({ prompt: promptId, story: completedId })}`);
    await phone.locator('article.story[data-status="COMPLETED"]').waitFor();
    // The page scrolls inside its frame (above the toast dock): neither may scroll sideways.
    const overflow = await phone.evaluate(() => {
      const frame = document.querySelector('.frame-content');
      return Math.max(document.documentElement.scrollWidth - window.innerWidth, frame ? frame.scrollWidth - frame.clientWidth : 0);
    });
    assert(overflow <= 0, `the page is ${overflow}px wider than a phone screen`);
    await expectAccessible(phone, 'a phone-width screen');
    await shot(phone, '14-phone');
    await phone.close();
  });

  await step('a page that fails to render shows the error boundary, with the trace ID and a way back', page, async () => {
    // Made to fail on a crafted server answer: the story comes back with a status this app does
    // not know (what a page older than its server would meet), and StatusBadge throws.
    const broken = await adaContext.newPage();
    const traceIds = new Set();
    broken.on('response', (res) => {
      const id = res.headers()['x-trace-id'];
      if (id) traceIds.add(id);
    });
    await broken.route(`${base}/graphql`, async (route) => {
      const op = route.request().postDataJSON()?.operationName;
      if (op !== 'Story' && op !== 'PromptWithStories') return route.continue();
      const res = await route.fetch();
      const body = (await res.text()).replaceAll('"status":"COMPLETED"', '"status":"FROM_THE_FUTURE"');
      return route.fulfill({ response: res, body });
    });
    await broken.goto(`${base}/?${new URLSearchParams({ prompt: promptId, story: completedId })}`);
    const boundary = broken.getByTestId('error-boundary');
    await boundary.getByRole('heading', { name: 'Something went wrong' }).waitFor();
    await boundary.getByText('older than the server').waitFor();
    const traceId = (await boundary.locator('[data-testid="boundary-trace"] code').textContent())?.trim();
    assert(traceId && traceIds.has(traceId), `the boundary quotes trace ID ${traceId}, which no answer carried (${[...traceIds].join(', ')})`);
    // The frame stays: the navigation is still there.
    await broken.getByRole('navigation', { name: 'Pages' }).waitFor();
    await shot(broken, '14a-error-boundary');
    await expectAccessible(broken, 'the error boundary');
    await broken.unroute(`${base}/graphql`);
    await boundary.getByRole('button', { name: 'Back to the prompts' }).click();
    await broken.getByRole('button', { name: new RegExp(`^${promptText}`) }).waitFor();
    await boundary.waitFor({ state: 'detached' });
    assert(new URL(broken.url()).search === '', `back at ${broken.url()}`);
    log(`       boundary trace ID: ${traceId}`);
    await broken.close();
  });

  await step('GraphiQL at /playground, signed in by the cookie, runs a subscription and shows its events', page, async () => {
    const { generateStory } = await gql('mutation($id: ID!) { generateStory(input: { promptID: $id }) { id } }', { id: promptId });
    const pg = await adaContext.newPage();
    await openPlayground(pg, generateStory.id);
    await pg.locator('.graphiql-execute-button').click();
    const [first, later] = await expectPlaygroundStream(pg);
    log(`       GraphiQL events: seq ${first} → ${later}`);
    await shot(pg, '15-playground-subscription');
    await pg.waitForFunction(() => /COMPLETED/.test(document.querySelector('.graphiql-response')?.textContent ?? ''), null, { timeout: 180_000 });
    await shot(pg, '16-playground-completed');
    await pg.close();
  });

  let apiToken = '';
  await step('an API token is created on the tokens page and shown once, with a warning and a copy button', page, async () => {
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'API tokens' }).click();
    await page.getByRole('heading', { name: 'API tokens' }).waitFor();
    await page.getByLabel('Token name').fill('e2e playground');
    await page.getByLabel('Expires after').selectOption('30 days');
    await page.getByRole('button', { name: 'Create token' }).click();
    const shown = page.getByTestId('new-token');
    await shown.getByText('it will not be shown again').waitFor();
    apiToken = await shown.getByLabel('New API token').inputValue();
    assert(apiToken.length >= 20, `a suspiciously short token: ${apiToken}`);
    await shown.getByRole('button', { name: 'Copy token' }).click();
    assert((await page.evaluate(() => navigator.clipboard.readText())) === apiToken, 'the copy button did not copy the token');
    const row = page.locator('.tokens li', { hasText: 'e2e playground' });
    await row.getByText('Active').waitFor();
    await expectAccessible(page, 'the API tokens page with a new token');
    await shot(page, '17-api-token-created');
    await shown.getByRole('button', { name: 'I have copied it' }).click();
    await shown.waitFor({ state: 'detached' });
    await page.reload();
    await row.waitFor();
    assert(!(await page.content()).includes(apiToken), 'the token is shown again');
    const { viewer } = await gql('{ viewer { email } }', {}, { token: apiToken });
    assert(viewer?.email === ada.email, `the token signs in as ${viewer?.email}`);
  });

  await step('GraphiQL with a pasted token, and no cookie, runs a subscription over the websocket', page, async () => {
    const { generateStory } = await gql('mutation($id: ID!) { generateStory(input: { promptID: $id }) { id } }', { id: promptId }, { token: apiToken });
    const pg = await visitorContext.newPage();
    await openPlayground(pg, generateStory.id);
    await pg.locator('button[data-name="headers"]').click();
    const editor = pg.locator('.graphiql-editor-tool .graphiql-editor:not(.hidden)');
    await editor.click();
    await pg.keyboard.press('Control+A');
    await pg.keyboard.insertText(JSON.stringify({ Authorization: `Bearer ${apiToken}` }));
    await pg.locator('.graphiql-execute-button').click();
    const [first, later] = await expectPlaygroundStream(pg);
    log(`       GraphiQL events with a pasted token: seq ${first} → ${later}`);
    await shot(pg, '18-playground-pasted-token');
    await pg.close();
  });

  await step('a revoked API token stops working, after a confirmation', page, async () => {
    const row = page.locator('.tokens li', { hasText: 'e2e playground' });
    await row.getByRole('button', { name: 'Revoke token: e2e playground' }).click();
    await row.getByRole('button', { name: 'Keep it' }).click();
    assert((await gqlAs({ token: apiToken }, '{ viewer { email } }')).data?.viewer?.email === ada.email, 'the token stopped working without a confirmation');
    await row.getByRole('button', { name: 'Revoke token: e2e playground' }).click();
    await row.getByRole('button', { name: 'Revoke token', exact: true }).click();
    await row.locator('.badge', { hasText: 'Revoked' }).waitFor();
    await expectToast(page, 'revoked');
    const body = await gqlAs({ token: apiToken }, '{ viewer { email } }');
    assert(body.status === 401 && errorCode(body) === 'UNAUTHENTICATED', `a revoked token: ${body.status} ${JSON.stringify(body)}`);
    await shot(page, '19-api-token-revoked');
  });

  const bobContext = await newPerson(browser, 'bob');
  const bobPage = await bobContext.newPage();
  await step("a second user signs up and sees none of the first user's prompts", bobPage, async () => {
    await signUp(bobPage, bob);
    await bobPage.getByText('No prompts yet').waitFor();
    const menu = await openAccountMenu(bobPage);
    assert((await menu.getByTestId('account-role').textContent()) === 'User', 'the second account is an admin');
    await closeAccountMenu(bobPage);
    const bobsPrompt = 'A clockmaker who repairs time itself';
    await bobPage.getByLabel('New prompt').fill(bobsPrompt);
    await bobPage.getByRole('button', { name: 'Add prompt' }).click();
    await bobPage.getByRole('button', { name: new RegExp(`^${bobsPrompt}`) }).waitFor();
    assert(!(await bobPage.content()).includes(promptText), "Bob's page shows Ada's prompt");
    assert((await bobPage.locator('.prompts li').count()) === 1, 'Bob sees more prompts than his own');
    const { prompts } = await gql('{ prompts(first: 100) { totalCount edges { node { content } } } }', {}, bob);
    assert(prompts.totalCount === 1 && prompts.edges[0].node.content === bobsPrompt, `Bob's prompts: ${JSON.stringify(prompts)}`);
    const ours = await gql('{ prompts(first: 100) { edges { node { content } } } }');
    assert(!ours.prompts.edges.some((e) => e.node.content === bobsPrompt), "Ada's prompts include Bob's");
    await shot(bobPage, '20-second-user');
  });

  await step("the first user's prompt and story, opened by address as the second user, are not found", bobPage, async () => {
    await bobPage.goto(`${base}/?${new URLSearchParams({ prompt: promptId, story: completedId })}`);
    await bobPage.getByText('Prompt not found').waitFor();
    assert(!(await bobPage.content()).includes(promptText), "Bob's page shows Ada's prompt");
    assert((await bobPage.locator('article.story').count()) === 0, "Bob's page shows Ada's story");
    const read = await gqlAs(bob, 'query($p: ID!, $s: ID!) { p: node(id: $p) { id } s: node(id: $s) { id ... on Story { text } } }', { p: promptId, s: completedId });
    assert(!read.data?.p && !read.data?.s, `Bob reads Ada's objects: ${JSON.stringify(read)}`);
    const del = await gqlAs(bob, 'mutation($id: ID!) { deletePrompt(id: $id) }', { id: promptId });
    assert(errorCode(del) === 'NOT_FOUND', `Bob deleting Ada's prompt: ${JSON.stringify(del)}`);
    await shot(bobPage, '21-not-found-for-another-user');
  });

  await step('signing out returns to the sign-in page and leaves nothing of the user', page, async () => {
    await page.goto(`${base}/?${new URLSearchParams({ prompt: promptId, story: completedId })}`);
    await page.locator('article.story[data-status="COMPLETED"]').waitFor();
    const menu = await openAccountMenu(page);
    await menu.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert(new URL(page.url()).pathname === '/signin', `signed out at ${page.url()}`);
    const html = await page.content();
    for (const secret of [promptText, ada.email, completedId]) assert(!html.includes(secret), `the signed-out page still holds ${secret}`);
    assert(!(await adaContext.cookies(base)).some((c) => c.httpOnly && c.value), 'the session cookie is still set');
    // Going back shows the sign-in page, not the prompts.
    await page.goBack();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert(!(await page.content()).includes(promptText), 'going back after signing out shows the prompt');
    // The old session is over on the server too.
    const { data } = await gqlAs(ada, '{ viewer { email } }');
    assert(data.viewer === null, `the old session cookie still signs in as ${data.viewer?.email}`);
    await shot(page, '22-signed-out');
  });

  await step('signing in again brings the prompts back', page, async () => {
    await page.getByLabel('Email').fill(ada.email);
    await page.getByLabel('Password').fill(ada.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: new RegExp(`^${promptText}`) }).waitFor();
    ada.cookie = await cookieHeader(adaContext);
  });

  await step('on a phone-width screen under rate limits: Generate counts down, and a burst of errors leaves at most three toasts, merged, clear of the prompt list, then gone', page, async () => {
    // A second storybot that lets a client start one story at once and six a minute.
    const limited = await startStorybot(workDir, 'server-rate-limited', { STORY_RATE_PER_MINUTE: '6', STORY_RATE_BURST: '1' });
    const carol = { email: 'carol@example.com', password: 'yet another password', name: '', cookie: '' };
    const context = await newPerson(browser, 'carol', { origin: limited, viewport: { width: 360, height: 740 } });
    const narrow = await context.newPage();
    await signUp(narrow, carol, limited);
    const texts = ['A phone-width prompt about rain', 'A phone-width prompt about snow', 'A phone-width prompt about wind'];
    for (const text of texts) {
      await narrow.getByLabel('New prompt').fill(text);
      await narrow.getByRole('button', { name: 'Add prompt' }).click();
      await narrow.getByRole('button', { name: new RegExp(`^${text}`) }).waitFor();
    }
    await narrow.locator('.prompt-quote', { hasText: texts[2] }).waitFor();
    const generate = narrow.getByRole('button', { name: 'Generate story' });
    await generate.click();
    await narrow.locator('article.story[data-status="GENERATING"]').waitFor({ timeout: 20_000 });

    // The second story is one too many: the server says RATE_LIMITED with retryAfter.
    await generate.click();
    const limitedToast = narrow.locator('[data-testid="toast"]', { hasText: 'Could not start a story: Too many requests just now. Try again in' });
    await limitedToast.waitFor({ timeout: 10_000 });
    const retryAfter = Number(((await limitedToast.textContent()) ?? '').match(/in (\d+) seconds?/)?.[1]);
    assert(retryAfter > 0, `the toast names no wait: ${await limitedToast.textContent()}`);
    assert((await generate.getAttribute('aria-disabled')) === 'true', 'Generate is not disabled while rate-limited');
    const countdown = narrow.getByTestId('generate-cooldown');
    const secondsShown = async () => Number(((await countdown.textContent()) ?? '').match(/in (\d+) s/)?.[1]);
    const first = await secondsShown();
    assert(Math.abs(first - retryAfter) <= 1, `the countdown shows ${first} s, the server asked for ${retryAfter} s`);
    await shot(narrow, '23-rate-limited-countdown');
    const generated = [];
    narrow.on('request', (req) => {
      if ((req.postData() ?? '').includes('GenerateStory')) generated.push(req);
    });
    // force: Playwright itself waits for an aria-disabled button to be enabled before clicking.
    await generate.click({ force: true });
    await sleep(1_500);
    assert(generated.length === 0, 'a click on the counting-down Generate sent generateStory');
    const later = await secondsShown();
    assert(later < first, `the countdown did not count down: ${first} s, then ${later} s`);
    log(`       retryAfter ${retryAfter} s; countdown ${first} s → ${later} s`);

    // A burst of rate-limit errors, from what the page does next: each answered with the body the
    // server gives a rate-limited client (read now, from this server, as the same client).
    const promptID = new URL(narrow.url()).searchParams.get('prompt');
    const real = await gqlAs(carol, 'mutation($id: ID!) { generateStory(input: { promptID: $id }) { id } }', { id: promptID }, limited);
    assert(errorCode(real) === 'RATE_LIMITED' && real.errors[0].extensions.retryAfter > 0, `the server did not rate-limit: ${JSON.stringify(real)}`);
    const burstOps = new Set(['CreatePrompt', 'ShareStory', 'CancelStory', 'DeletePrompt']);
    await narrow.route(`${limited}/graphql`, (route) => {
      if (!burstOps.has(route.request().postDataJSON()?.operationName)) return route.continue();
      return route.fulfill({ status: real.status, contentType: 'application/json', body: JSON.stringify({ errors: real.errors, data: null, extensions: real.extensions }) });
    });

    // The prompt list's lower edge at the bottom of the page's part of the window: exactly where
    // toasts laid over the page would cover it.
    const expectToastsClear = async (label) => {
      await narrow.evaluate(() => document.querySelector('.prompt-list')?.scrollIntoView({ block: 'end' }));
      const seen = await narrow.evaluate(() => {
        const frame = document.querySelector('.frame-content').getBoundingClientRect();
        const list = document.querySelector('.prompt-list').getBoundingClientRect();
        const shown = { left: list.left, right: list.right, top: Math.max(list.top, frame.top), bottom: Math.min(list.bottom, frame.bottom) };
        const toasts = [...document.querySelectorAll('[data-testid="toast"]')].map((t) => t.getBoundingClientRect());
        const overlapping = toasts.filter((t) => t.left < shown.right && t.right > shown.left && t.top < shown.bottom && t.bottom > shown.top).length;
        const covered = toasts.filter((t) => !document.elementFromPoint(t.left + t.width / 2, t.top + t.height / 2)?.closest('[data-testid="toast"]')).length;
        const listPoint = document.elementFromPoint(shown.left + 20, shown.bottom - 5);
        return {
          toasts: toasts.length,
          overlapping,
          covered,
          listOnTop: Boolean(listPoint?.closest('.prompt-list')),
          listShown: shown.bottom - shown.top,
          frameBottom: frame.bottom,
          dockTop: document.querySelector('[data-testid="toasts"]').getBoundingClientRect().top,
        };
      });
      assert(seen.toasts <= 3, `${label}: ${seen.toasts} toasts at once`);
      assert(seen.listShown > 40, `${label}: the prompt list is not in view (${seen.listShown}px)`);
      assert(seen.overlapping === 0 && seen.listOnTop, `${label}: a toast covers the prompt list (${JSON.stringify(seen)})`);
      assert(seen.frameBottom <= seen.dockTop + 0.5, `${label}: the page reaches under the toasts (${JSON.stringify(seen)})`);
      return seen.toasts;
    };

    const counts = [await expectToastsClear('after the rate-limited Generate')];
    // While the story is still being written (it takes about 20 s).
    await narrow.getByRole('button', { name: 'Share', exact: true }).click();
    await narrow.locator('[data-testid="toast"]', { hasText: 'Could not share the story' }).waitFor();
    counts.push(await expectToastsClear('after a refused share'));
    await narrow.getByRole('button', { name: 'Cancel story', exact: true }).click();
    await narrow.locator('[data-testid="toast"]', { hasText: 'Could not cancel the story' }).waitFor();
    counts.push(await expectToastsClear('after a refused cancel'));
    for (const text of ['One more about fog', 'One more about hail', 'One more about frost']) {
      await narrow.getByLabel('New prompt').fill(text);
      await narrow.getByRole('button', { name: 'Add prompt' }).click();
      await narrow.locator('[data-testid="toast"]', { hasText: 'Could not add the prompt' }).waitFor();
      counts.push(await expectToastsClear('after a refused prompt'));
    }
    const merged = narrow.locator('[data-testid="toast"]', { hasText: 'Could not add the prompt' });
    await narrow.waitForFunction(() => document.querySelector('[data-testid="toast"][data-count="3"]'), null, { timeout: 5_000 });
    assert((await merged.count()) === 1 && (await merged.getAttribute('data-count')) === '3', 'three refused prompts are not one toast counted ×3');
    await narrow.getByRole('button', { name: `Delete prompt: ${texts[0]}` }).click();
    await narrow.getByRole('dialog').getByRole('button', { name: /^Delete prompt/ }).click();
    await narrow.locator('[data-testid="toast"]', { hasText: 'Could not delete the prompt' }).waitFor();
    counts.push(await expectToastsClear('after a refused delete'));
    assert(Math.max(...counts) === 3, `the burst never filled the stack: ${counts.join(', ')}`);
    await shot(narrow, '24-toast-burst-phone');
    log(`       toasts on screen through the burst: ${counts.join(', ')}`);
    await narrow.unroute(`${limited}/graphql`);

    // Away from the toasts (the pointer on one keeps it), they all expire; Generate comes back.
    await narrow.mouse.move(5, 5);
    const started = Date.now();
    await narrow.waitForFunction(() => document.querySelectorAll('[data-testid="toast"]').length === 0, null, { timeout: 20_000 });
    log(`       the last toasts expired ${Date.now() - started} ms after the burst`);
    await countdown.waitFor({ state: 'detached', timeout: 15_000 });
    assert((await generate.getAttribute('aria-disabled')) === null, 'Generate stays disabled after the countdown');
    await narrow.close();
  });

  await step('no Content Security Policy violations in any page', page, async () => {
    assert(cspViolations.length === 0, `CSP violations:\n    ${cspViolations.join('\n    ')}`);
  });

  await step('no uncaught errors in the pages', page, async () => {
    assert(pageErrors.length === 0, `uncaught page errors: ${pageErrors.join('; ')}`);
  });
}

// Opens GraphiQL on the storyStream subscription of a story, ready to run.
async function openPlayground(pg, storyID) {
  const subscription = 'subscription Follow($storyID: ID!) {\n  storyStream(storyID: $storyID) {\n    seq\n    status\n    tokenCount\n    delta\n  }\n}';
  await pg.setViewportSize({ width: 1280, height: 860 });
  const query = new URLSearchParams({ query: subscription, variables: JSON.stringify({ storyID }) });
  await pg.goto(`${base}/playground?${query}`);
  await pg.locator('.graphiql-execute-button').waitFor({ timeout: 30_000 });
  await pg.locator('.graphiql-query-editor', { hasText: 'storyStream' }).waitFor({ timeout: 30_000 });
}

// ---------------------------------------------------------------------------------------------

async function main() {
  mkdirSync(shotsDir, { recursive: true });
  const workDir = await mkdtemp(path.join(tmpdir(), 'storybot-e2e-'));
  cleanups.push(() => rm(workDir, { recursive: true, force: true }));

  buildBundleIfStale();
  base = await startStorybot(workDir);

  const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumFlags });
  cleanups.push(() => browser.close());
  log(`Node.js ${process.version}, Chromium ${browser.version()}`);

  let lastPage = null;
  try {
    await scenario(browser, workDir);
  } catch {
    // The failing step has logged itself; the summary below counts it.
  }
  lastPage = browser.contexts()[0]?.pages()[0] ?? null;
  await step('nothing was loaded from outside the storybot server', lastPage, async () => {
    assert(offsite.length === 0, `requests left the test server: ${offsite.join(', ')}`);
  }).catch(() => {});
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

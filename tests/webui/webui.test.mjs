// Browser tests of the web UI: a real master + slave (tests/webui/cluster.mjs),
// one headless Chromium for the whole suite, a fresh page per test. Every
// page fails its test on a console error or an uncaught exception, except a
// 404 from an endpoint this master does not have (listed at start). Screenshots
// go to $STOA_WEBUI_ARTIFACTS (run-tests.sh: <build>/webui-artifacts).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  Cluster, waitUntil, statusOf, getJSON, httpRequest, masterHasFlag, zookeeperMissing,
} from './cluster.mjs';
import { startUiServer } from './ui-server.mjs';

const HERE = path.dirname(new URL(import.meta.url).pathname);
const APP_DIR = path.resolve(HERE, '../../webui/app');
const ARTIFACTS = process.env.STOA_WEBUI_ARTIFACTS || path.join(HERE, 'artifacts');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const UI_MS = 2000;          // the UI shows a change the master made within this
const STEP_MS = 15000;       // anything slower (a task start, a kill) within this
const WARM_MS = 90000;       // the browser's first page, before the tests

let cluster;
let browser;
let base;                    // the URL the page is opened at
let uiServer = null;
let masterArgs = [];         // the UI flags every master of the tests gets
let profile;
const missing = new Set();   // endpoints this master answers 404 (not built yet)

function log(...a) {
  console.log('#', ...a);
}

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  cluster = new Cluster();
  // Serve the source tree's app when the master can (no rebuild per UI change);
  // STOA_WEBUI_EMBEDDED=1 tests the copy embedded in the binary instead.
  if (masterHasFlag('webui_dir') && process.env.STOA_WEBUI_EMBEDDED !== '1') masterArgs.push(`--webui_dir=${APP_DIR}`);
  await cluster.startMaster(masterArgs);
  await cluster.startSlave();
  const port = cluster.masterPort;
  for (const p of ['/master/events', '/master/utilization', '/master/maintenance/schedule',
    '/master/maintenance/status', '/master/kill', '/master/teardown']) {
    const s = await statusOf(port, p);
    if (s === 404) missing.add(p);
  }
  if (missing.size) log(`this master has no ${[...missing].join(', ')} (404): the UI must degrade, tests that need them skip`);
  const index = await statusOf(port, '/static/app.js');
  if (index === 200) {
    base = `http://127.0.0.1:${port}/`;
    log(`the master serves the UI: ${base}${masterArgs.length ? ' (--webui_dir=webui/app)' : ' (embedded assets)'}`);
  } else {
    uiServer = await startUiServer(APP_DIR, port);
    base = `http://127.0.0.1:${uiServer.port}/`;
    log(`the master does not serve /static/app.js (${index}); serving webui/app at ${base}, API passed to the master`);
  }
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'stoa-webui-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  // A fresh profile's first page (Chromium's own start-up, the app's first
  // load) took over 30 s on a saturated machine at the start of a CI run:
  // it happens here, with room, so that the tests time the UI, not that.
  const started = Date.now();
  const warm = await browser.newPage();
  try {
    await warm.goto(base + '#/tasks', { timeout: WARM_MS });
    await warm.locator('#tasks').waitFor({ timeout: WARM_MS });
  } finally {
    await warm.close();
  }
  log(`the browser's first page showed #tasks in ${Date.now() - started} ms`);
});

after(async () => {
  if (browser) await browser.close();
  if (uiServer) uiServer.server.close();
  if (cluster) await cluster.stop();
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
  if (cluster && process.env.STOA_WEBUI_KEEP !== '1') fs.rmSync(cluster.root, { recursive: true, force: true });
});

// A page that records console errors and uncaught exceptions.
async function openPage(route) {
  const page = await browser.newPage();
  page.errors = [];
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const url = (msg.location() && msg.location().url) || '';
    if (/Failed to load resource/.test(msg.text())) {
      const p = url ? new URL(url).pathname : '';
      if (missing.has(p) && /404/.test(msg.text())) return;
    }
    page.errors.push(`console.error: ${msg.text()} (${url})`);
  });
  page.on('pageerror', (e) => page.errors.push(`uncaught: ${e.message}`));
  await page.goto(base + route);
  return page;
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

function assertNoErrors(page) {
  assert.deepEqual(page.errors, [], `errors in the page:\n${page.errors.join('\n')}`);
}

async function closePage(page, name) {
  try {
    await shot(page, name);
  } finally {
    await page.close();
  }
}

const TAIL_COMMAND = 'i=0; while true; do echo "webui-line-$i"; i=$((i+1)); sleep 0.2; done';
let tailTask = null;         // the long-running task the tests share

test('a launched task shows in the tasks view within 2 s of the master knowing it', async () => {
  const page = await openPage('#/tasks');
  try {
    await page.locator('#tasks').waitFor();
    cluster.execute('webui-tail', TAIL_COMMAND);
    // Poll the master as fast as the UI could learn it.
    tailTask = await waitUntil(() => cluster.taskNamed('webui-tail'), STEP_MS, 'the master to list task webui-tail', 20);
    const known = Date.now();
    const row = page.locator('#tasks tbody tr', { hasText: tailTask.id });
    await row.waitFor({ timeout: UI_MS + 500 });
    const took = Date.now() - known;
    log(`task ${tailTask.id} in the tasks view ${took} ms after the master listed it`);
    assert.ok(took <= UI_MS, `the tasks view showed the task after ${took} ms (more than ${UI_MS})`);
    // And it turns RUNNING without a reload.
    await waitUntil(async () => (await getJSON(cluster.masterPort, '/master/tasks')).tasks
      .some((t) => t.id === tailTask.id && t.state === 'TASK_RUNNING'), STEP_MS, 'the task to run');
    await row.locator('.badge', { hasText: 'RUNNING' }).waitFor({ timeout: UI_MS + 500 });
    // The search box narrows the list to it.
    await page.fill('#task-search', tailTask.id);
    await waitUntil(async () => (await page.locator('#tasks tbody tr').count()) === 1, UI_MS, 'one row after searching');
    assertNoErrors(page);
  } finally {
    await closePage(page, 'tasks');
  }
});

test('the sandbox shows the task\'s stdout, and new output appears', async () => {
  assert.ok(tailTask, 'the task of the first test');
  const page = await openPage('#/tasks');
  try {
    await page.locator('#tasks tbody tr', { hasText: tailTask.id }).locator('a.sandbox-link').click();
    await page.locator('#sandbox-files').waitFor({ timeout: STEP_MS });
    await shot(page, 'sandbox-directory');
    await page.locator('#open-stdout').click();
    const tail = page.locator('#tail');
    await waitUntil(async () => /webui-line-\d+/.test(await tail.innerText()), STEP_MS, 'stdout in the tail');
    const lastLine = async () => {
      const nums = [...(await tail.innerText()).matchAll(/webui-line-(\d+)/g)].map((m) => Number(m[1]));
      return nums.length ? Math.max(...nums) : -1;
    };
    const first = await lastLine();
    await waitUntil(async () => (await lastLine()) >= first + 3, 5000, `lines after webui-line-${first}`);
    log(`tail went from webui-line-${first} to webui-line-${await lastLine()}`);
    assert.equal(await page.locator('#tail-status').innerText(), 'following');
    // stderr is one click away, and read from the same sandbox.
    await page.locator('#tail-other').click();
    await page.locator('.tail-bar strong', { hasText: 'stderr' }).waitFor();
    await page.locator('#tail[data-end]').waitFor({ timeout: STEP_MS });
    assertNoErrors(page);
  } finally {
    await closePage(page, 'sandbox-tail');
  }
});

test('a long stdout: the tail shows its end, pages back on scroll-up and keeps the DOM bounded', async () => {
  // 30,000 numbered lines (about 200 KB), then quiet.
  cluster.execute('webui-long', 'seq -f "long-%06g" 1 30000; sleep 120');
  const t = await waitUntil(() => cluster.taskNamed('webui-long'), STEP_MS, 'the master to list task webui-long', 20);
  const page = await openPage(`#/agents/${encodeURIComponent(t.slave_id)}/browse?path=${
    encodeURIComponent(`/frameworks/${t.framework_id}/executors/${t.executor_id || t.id}/runs/latest/stdout`)}`);
  try {
    const tail = page.locator('#tail');
    const numbers = async () => [...(await tail.innerText()).matchAll(/long-(\d{6})/g)].map((m) => Number(m[1]));
    await waitUntil(async () => (await numbers()).includes(30000), STEP_MS, 'the last line in the tail', 250);
    const first = Math.min(...(await numbers()));
    assert.ok(first > 1, `only the end is read (first line shown: ${first})`);
    let seen = first;
    for (let i = 0; i < 6; i++) {
      await tail.evaluate((el) => { el.scrollTop = 0; });
      seen = await waitUntil(async () => {
        const m = Math.min(...(await numbers()));
        return m < seen ? m : null;
      }, UI_MS + 1000, `lines before long-${seen} after scrolling up`);
      const chars = await tail.evaluate((el) => el.textContent.length);
      assert.ok(chars <= 50000, `at most 50,000 characters in the page (${chars})`);
    }
    log(`paged back from long-${first} to long-${seen}`);
    assert.match(await page.locator('#tail-status').innerText(), /paused/);
    // The end was trimmed while paging back; scrolling down follows again and reaches it.
    await waitUntil(async () => {
      await tail.evaluate((el) => { el.scrollTop = el.scrollHeight; });
      return (await numbers()).includes(30000);
    }, STEP_MS, 'the end again after scrolling down', 250);
    assertNoErrors(page);
  } finally {
    await closePage(page, 'sandbox-long');
  }
});

test('every view renders without console errors', async () => {
  const views = [
    ['#/', '#overview-body .card', 'overview'],
    ['#/frameworks', '#frameworks-active', 'frameworks'],
    ['#/agents', '#agents', 'agents'],
    ['#/tasks', '#tasks', 'tasks-all'],
    ['#/offers', '#offers', 'offers'],
    ['#/roles', '#roles', 'roles'],
    ['#/maintenance', '#maintenance-body :is(#maintenance, #maintenance-empty, .muted:not(:empty))', 'maintenance'],
  ];
  // A role with a weight and a quota, for the roles view to show.
  const w = await httpRequest(cluster.masterPort, 'PUT', '/master/weights', JSON.stringify([{ role: 'webui', weight: 3 }]),
    { 'Content-Type': 'application/json' });
  assert.equal(w.status, 200, `PUT /master/weights: ${w.body}`);
  const q = await httpRequest(cluster.masterPort, 'POST', '/master/quota',
    JSON.stringify({ role: 'webui', guarantee: { cpus: 1 } }), { 'Content-Type': 'application/json' });
  assert.equal(q.status, 200, `POST /master/quota: ${q.body}`);
  const state = await getJSON(cluster.masterPort, '/master/state');
  const fw = state.frameworks[0];
  if (fw) views.push([`#/frameworks/${encodeURIComponent(fw.id)}`, '#framework-tasks', 'framework-detail']);
  views.push([`#/agents/${encodeURIComponent(state.slaves[0].id)}`, '#agent-tasks-table', 'agent-detail']);
  const page = await openPage('#/');
  try {
    for (const [route, marker, name] of views) {
      await page.goto(base + route);
      await page.locator(marker).first().waitFor({ timeout: STEP_MS });
      assert.equal(await page.locator('main .error').count(), 0, `${route} shows an error: ${
        await page.locator('main').innerText()}`);
      await shot(page, `view-${name}`);
    }
    await page.goto(`${base}#/roles`);
    const role = page.locator('#roles tbody tr', { hasText: 'webui' });
    await role.waitFor({ timeout: STEP_MS });
    assert.match(await role.innerText(), /3\s+\d+\s+1 cpus/, 'weight 3, the frameworks, quota guarantee 1 cpus');
    if (!missing.has('/master/maintenance/schedule')) {
      // A window starting now: its machine is draining.
      const schedule = { windows: [{ machine_ids: [{ hostname: 'maint-host', ip: '10.0.0.9' }],
        unavailability: { start: { nanoseconds: Date.now() * 1e6 }, duration: { nanoseconds: 3600e9 } } }] };
      const r = await httpRequest(cluster.masterPort, 'POST', '/master/maintenance/schedule', JSON.stringify(schedule),
        { 'Content-Type': 'application/json' });
      assert.equal(r.status, 200, `POST /master/maintenance/schedule: ${r.body}`);
      await page.goto(`${base}#/maintenance`);
      const row = page.locator('#maintenance tbody tr', { hasText: 'maint-host' });
      await row.waitFor({ timeout: STEP_MS });
      assert.match(await row.innerText(), /10\.0\.0\.9[\s\S]*1h 0m[\s\S]*draining/);
      await shot(page, 'view-maintenance-scheduled');
    }
    // The slave's row and the framework of the task are there.
    await page.goto(`${base}#/agents`);
    await page.locator('#agents tbody tr', { hasText: state.slaves[0].id }).waitFor();
    assertNoErrors(page);
  } finally {
    await closePage(page, 'views-last');
  }
});

test('the utilization charts render with data', async (t) => {
  if (missing.has('/master/utilization')) {
    t.skip('this master has no /master/utilization yet (the charts say "no data")');
    const page = await openPage('#/');
    await page.locator('#cluster-charts .chart-empty', { hasText: 'no /master/utilization' }).waitFor({ timeout: STEP_MS });
    assertNoErrors(page);
    await closePage(page, 'charts-no-data');
    return;
  }
  // Wait for the master to have samples, then for the charts to draw them.
  await waitUntil(async () => (await getJSON(cluster.masterPort, '/master/utilization')).cluster.length >= 2,
    30000, 'two cluster utilization samples', 250);
  const page = await openPage('#/');
  try {
    const cpu = page.locator('#cluster-charts .chart[data-resource="cpus"]');
    await waitUntil(async () => Number(await cpu.getAttribute('data-points')) >= 2, STEP_MS, 'points in the CPU chart');
    assert.ok(await cpu.locator('canvas').count() >= 1, 'the CPU chart has a canvas');
    const legend = await cpu.locator('.u-legend').innerText();
    assert.match(legend, /used/);
    assert.match(legend, /total/);
    const slaveId = (await getJSON(cluster.masterPort, '/master/slaves')).slaves[0].id;
    await page.goto(`${base}#/agents/${encodeURIComponent(slaveId)}`);
    const slaveCpu = page.locator('#agent-charts .chart[data-resource="cpus"]');
    await waitUntil(async () => Number(await slaveCpu.getAttribute('data-points')) >= 1, 30000,
      'points in the slave\'s CPU chart', 250);
    // The running task's executor, as measured by the slave (through the master).
    const memUsed = page.locator('#agent-tasks-table tbody tr', { hasText: tailTask.id }).locator('.mem-used');
    await waitUntil(async () => /\d+(\.\d+)? [KMG]B/.test(await memUsed.innerText()), 30000,
      'the task\'s measured memory on the slave page', 250);
    log(`the tail task uses ${await memUsed.innerText()} (slave report)`);
    assertNoErrors(page);
  } finally {
    await closePage(page, 'charts');
  }
});

test('killing the task from the UI, after a confirmation, ends in TASK_KILLED', async (t) => {
  assert.ok(tailTask, 'the task of the first test');
  if (missing.has('/master/kill')) {
    t.skip('this master has no POST /master/kill yet');
    return;
  }
  const page = await openPage(`#/tasks?q=${encodeURIComponent(tailTask.id)}`);
  try {
    const row = page.locator('#tasks tbody tr', { hasText: tailTask.id });
    await row.locator('button[data-action="kill"]').click();
    const dialog = page.locator('dialog#confirm');
    await dialog.waitFor();
    assert.match(await dialog.innerText(), new RegExp(tailTask.id));
    await shot(page, 'kill-confirmation');
    await dialog.locator('button.confirm-ok').click();
    await row.locator('.badge', { hasText: 'KILLED' }).waitFor({ timeout: STEP_MS });
    const master = await getJSON(cluster.masterPort, `/master/tasks?task_id=${encodeURIComponent(tailTask.id)}`);
    assert.equal(master.tasks[0].state, 'TASK_KILLED');
    // The framework's failure history lists it with its reason.
    await page.goto(`${base}#/frameworks/${encodeURIComponent(tailTask.framework_id)}`);
    await page.locator('#framework-history tbody tr', { hasText: tailTask.id }).waitFor({ timeout: STEP_MS });
    assertNoErrors(page);
  } finally {
    await closePage(page, 'killed');
  }
});

test('tearing down a framework from the UI, after a confirmation, completes it and kills its task', async (t) => {
  if (missing.has('/master/teardown')) {
    t.skip('this master has no POST /master/teardown yet');
    return;
  }
  const long = await cluster.taskNamed('webui-long');
  assert.ok(long, 'the task of the long-stdout test');
  const page = await openPage(`#/frameworks/${encodeURIComponent(long.framework_id)}`);
  try {
    await page.locator('#framework-tasks tbody tr', { hasText: long.id }).waitFor({ timeout: STEP_MS });
    await page.locator('h1 button[data-action="teardown"]').click();
    const dialog = page.locator('dialog#confirm');
    await dialog.waitFor();
    assert.match(await dialog.innerText(), new RegExp(long.framework_id));
    await dialog.locator('button.confirm-ok').click();
    await page.locator('#framework-history tbody tr', { hasText: long.id }).waitFor({ timeout: STEP_MS });
    await page.goto(`${base}#/frameworks`);
    await page.locator('#frameworks-completed tbody tr', { hasText: long.framework_id }).waitFor({ timeout: STEP_MS });
    const fws = await getJSON(cluster.masterPort, '/master/frameworks');
    assert.ok(fws.completed_frameworks.some((f) => f.id === long.framework_id), 'the master completed the framework');
    assertNoErrors(page);
  } finally {
    await closePage(page, 'teardown');
  }
});

test('a banner says so while the master is unreachable, and the page catches up when it is back', async () => {
  const page = await openPage('#/agents');
  try {
    await page.locator('#agents tbody tr').first().waitFor();
    assert.equal(await page.locator('#banner').isVisible(), false);
    await cluster.master.stop();
    const banner = page.locator('#banner');
    await banner.waitFor({ state: 'visible', timeout: STEP_MS });
    assert.match(await banner.innerText(), /unreachable/i);
    // The last known state stays on screen.
    assert.ok(await page.locator('#agents tbody tr').count() >= 1);
    await shot(page, 'master-unreachable');

    // The master comes back (read-only when it can be): the banner goes, the
    // page reads the state again, the slave is back, and a new task shows.
    const readOnly = masterHasFlag('webui_read_only');
    await cluster.restartMaster(readOnly ? ['--webui_read_only'] : []);
    await banner.waitFor({ state: 'hidden', timeout: STEP_MS });
    if (readOnly) {
      // The page re-reads /master/flags when the stream is back, retrying
      // while the restarted master still refuses it: wait until it knows.
      await page.waitForFunction(() => document.body.classList.contains('read-only'), null, { timeout: STEP_MS });
    }
    await waitUntil(async () => (await getJSON(cluster.masterPort, '/master/slaves')).slaves.some((a) => a.active),
      STEP_MS, 'the slave to re-register');
    cluster.execute('webui-after-restart', 'sleep 60');
    const t = await waitUntil(() => cluster.taskNamed('webui-after-restart'), STEP_MS, 'the new task', 20);
    await page.goto(`${base}#/tasks?q=${encodeURIComponent(t.id)}`);
    const row = page.locator('#tasks tbody tr', { hasText: t.id });
    await row.waitFor({ timeout: UI_MS + 500 });
    if (readOnly) {
      assert.equal(await row.locator('button[data-action="kill"]').count(), 0, 'no Kill button when read-only');
      await page.goto(`${base}#/frameworks`);
      await page.locator('#frameworks-active tbody tr', { hasText: t.framework_id }).waitFor({ timeout: UI_MS + 500 });
      assert.equal(await page.locator('button[data-action="teardown"]').count(), 0, 'no Tear down button when read-only');
    } else {
      log('this master has no --webui_read_only yet: the read-only check is skipped');
      assert.equal(await row.locator('button[data-action="kill"]').count(), 1, 'a Kill button');
    }
    // Connection errors are expected while the master was down; only uncaught exceptions count.
    page.errors = page.errors.filter((e) => !/console\.error: Failed to load resource|ERR_CONNECTION_REFUSED|EventSource/.test(e));
    assertNoErrors(page);
  } finally {
    await closePage(page, 'master-back');
  }
});

test('a page opened on a master that does not lead moves to the leader, on the same view', async (t) => {
  const why = zookeeperMissing();
  if (why) {
    t.skip(`no ZooKeeper for two masters: ${why}`);
    return;
  }
  const ha = new Cluster();
  try {
    const zk = await ha.startZooKeeper();
    const url = `zk://${zk}/stoa-webui`;
    const first = await ha.startZkMaster('ha-master-a', url, masterArgs);
    await waitUntil(async () => (await httpRequest(first, 'GET', '/master/state-summary')).status === 200,
      STEP_MS, 'the first master to lead');
    const standby = await ha.startZkMaster('ha-master-b', url, masterArgs);
    await waitUntil(async () => (await httpRequest(standby, 'GET', '/master/redirect')).status === 307,
      STEP_MS, 'the second master to know the leader');
    // Masters without the UI routes get a server in front of each (ui-server.mjs).
    let [pageAt, leaderAt] = [standby, first];
    const fronts = [];
    if (uiServer) {
      const map = new Map();
      fronts.push(await startUiServer(APP_DIR, first, map), await startUiServer(APP_DIR, standby, map));
      [leaderAt, pageAt] = [fronts[0].port, fronts[1].port];
    }
    const page = await openPage('#/');
    // What the page asked and navigated to, for the message when it does not move.
    const t0 = Date.now();
    const trail = [];
    const at = () => `${String(Date.now() - t0).padStart(6)} ms`;
    page.on('request', (rq) => trail.push(`${at()} ${rq.method()} ${rq.url()}`));
    page.on('requestfinished', async (rq) => {
      const r = await rq.response().catch(() => null);
      trail.push(`${at()}   ${rq.url()} answered ${r ? r.status() : '(no response)'}`);
    });
    page.on('requestfailed', (rq) => trail.push(`${at()}   ${rq.url()} failed: ${rq.failure()?.errorText}`));
    page.on('framenavigated', (f) => { if (f === page.mainFrame()) trail.push(`${at()} navigated to ${f.url()}`); });
    page.on('console', (m) => trail.push(`${at()} console.${m.type()}: ${m.text()}`));
    try {
      // The page's first ask where the leader is fails: it must ask again.
      let asks = 0;
      await page.route(`http://127.0.0.1:${pageAt}/master/redirect`, (route) =>
        (asks++ === 0 ? route.abort('connectionreset') : route.continue()));
      await page.goto(`http://127.0.0.1:${pageAt}/#/agents`);
      try {
        await page.waitForURL((u) => u.port === String(leaderAt), { timeout: STEP_MS });
      } catch (e) {
        // Say where the page stayed and what the masters answer now.
        const banner = await page.locator('#banner').textContent().catch((x) => `(${x.message})`);
        const redirect = await httpRequest(pageAt, 'GET', '/master/redirect').catch((x) => ({ status: x.message }));
        const root = await httpRequest(leaderAt, 'GET', '/').catch((x) => ({ status: x.message }));
        throw new Error(`${e.message}\nthe page is at ${page.url()}, banner "${banner}"; ` +
          `/master/redirect there answers ${redirect.status} (Location ${redirect.headers?.location}), ` +
          `the leader's / answers ${root.status}\nwhat the page did:\n${trail.join('\n')}\n` +
          `${ha.procs.map((c) => `${c.name}: ${c.exited ? `exited ${JSON.stringify(c.exited)}` : 'running'}\n${c.tail()}`).join('\n')}`);
      }
      assert.equal(new URL(page.url()).hash, '#/agents', 'the same view on the leader');
      assert.ok(asks >= 2, `the page asked again after its first ask failed (${asks} asks)`);
      await page.locator('#agents').waitFor({ timeout: STEP_MS });
      page.errors = page.errors.filter((e) => !/ERR_CONNECTION_RESET \(http:\/\/127\.0\.0\.1:\d+\/master\/redirect\)/.test(e));
      assertNoErrors(page);
    } finally {
      await closePage(page, 'leader-followed');
      for (const f of fronts) f.server.close();
    }
  } finally {
    await ha.stop();
    fs.rmSync(ha.root, { recursive: true, force: true });
  }
});

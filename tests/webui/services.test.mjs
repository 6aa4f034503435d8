// Browser test of stoa-services' page (apps/services/ui): a real master,
// slave and stoa-services (tests/webui/cluster.mjs), one headless Chromium.
// Through the page only: create an app with the form, see it running, scale
// it, roll it back to its first version, suspend it, see the 422 for a bad id
// next to the id field, destroy it; a deployment that cannot finish is listed
// and rolled back. The page
// fails on a console error or an uncaught exception (except the answers the
// test provokes: the 422, and a 404 for the app being destroyed).
// Screenshots go to $STOA_WEBUI_ARTIFACTS. run-services-tests.sh runs it.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { Cluster, waitUntil, httpRequest, getJSON } from './cluster.mjs';

const HERE = path.dirname(new URL(import.meta.url).pathname);
const ARTIFACTS = process.env.STOA_WEBUI_ARTIFACTS || path.join(HERE, 'artifacts');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const STEP_MS = 30000;  // a deployment (task start or kill) shows within this
const APP = '/ui-test';

let cluster;
let browser;
let profile;
let port;

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  cluster = new Cluster();
  await cluster.startMaster();
  await cluster.startSlave();
  port = await cluster.startServices();
  await waitUntil(async () => (await getJSON(port, '/v2/info')).frameworkId, STEP_MS,
    'stoa-services to register with the master (/v2/info frameworkId)');
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'stoa-services-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (cluster) await cluster.stop();
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
  if (cluster && process.env.STOA_WEBUI_KEEP !== '1') fs.rmSync(cluster.root, { recursive: true, force: true });
});

async function shot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `services-${name}.png`), fullPage: true });
}

test('/ and /ui/ serve the page with validators', async () => {
  for (const p of ['/', '/ui/']) {
    const r = await httpRequest(port, 'GET', p);
    assert.equal(r.status, 200, p);
    assert.match(r.headers['content-type'], /text\/html/);
    assert.match(r.body, /<script type="module" src="\/ui\/app.js">/);
    const again = await httpRequest(port, 'GET', p, null, { 'If-None-Match': r.headers.etag });
    assert.equal(again.status, 304, `${p} with its ETag`);
  }
  assert.equal((await httpRequest(port, 'GET', '/ui/app.js')).headers['content-type'], 'text/javascript');
});

test('create through the form, see it run, scale, roll back, suspend, a 422 for a bad id, destroy', async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    // The answers the test provokes (the browser logs every 4xx fetch).
    if (/Failed to load resource: the server responded with a status of (422|404)/.test(msg.text())) return;
    errors.push(`console.error: ${msg.text()} (${(msg.location() || {}).url || ''})`);
  });
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  try {
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.locator('h1', { hasText: 'Applications' }).waitFor();
    await page.locator('#live.events').waitFor({ timeout: STEP_MS });
    await shot(page, '1-empty');

    // A bad id: the server's 422 is shown next to the id field.
    await page.click('header nav a[data-nav=create]');
    await page.fill('form input[name=id]', '/Bad_ID!');
    await page.fill('form textarea[name=cmd]', 'sleep 300');
    await page.click('form button[name=create]');
    const idError = page.locator('.field-error[data-for=id]');
    await waitUntil(async () => (await idError.textContent()).trim().length > 0, STEP_MS, 'the 422 next to the id field');
    assert.ok(await page.locator('form input[name=id].invalid').count(), 'the id field is marked invalid');
    assert.match(await page.locator('[data-error=form]').textContent(), /^422/);
    await shot(page, '2-invalid-id');

    // A good one: created, the page moves to the app, which runs 1 task.
    await page.fill('form input[name=id]', APP);
    await page.fill('form input[name=cpus]', '0.1');
    await page.fill('form input[name=mem]', '16');
    await page.fill('form input[name=instances]', '1');
    const json = JSON.parse(await page.inputValue('form textarea[name=json]'));
    assert.deepEqual({ id: json.id, cmd: json.cmd, cpus: json.cpus, mem: json.mem, instances: json.instances },
      { id: APP, cmd: 'sleep 300', cpus: 0.1, mem: 16, instances: 1 }, 'the JSON editor follows the form');
    await page.click('form button[name=create]');
    await page.waitForURL(new RegExp(`#/apps${APP}$`), { timeout: STEP_MS });
    const running = page.locator('#tasks tr[data-task] .badge.ok', { hasText: 'RUNNING' });
    await waitUntil(async () => (await running.count()) === 1, STEP_MS, '1 running task on the page');
    await page.locator('.app-status [data-status=running]').waitFor({ timeout: STEP_MS });
    await shot(page, '3-running');

    // Scale to 2 from the page.
    await page.fill('input[name=scale]', '2');
    await page.click('button[name=scale-apply]');
    await waitUntil(async () => (await running.count()) === 2, STEP_MS, '2 running tasks on the page');
    await page.locator('.app-status [data-status=running]').waitFor({ timeout: STEP_MS });
    const links = await page.locator('#tasks a', { hasText: 'stdout' }).evaluateAll((as) => as.map((a) => a.href));
    assert.equal(links.length, 2);
    for (const l of links) {
      // The master's address as /v2/info names it (its hostname); read it on loopback.
      const u = new URL(l);
      assert.equal(u.port, String(cluster.masterPort), l);
      assert.equal(u.pathname, '/files/read', l);
      const r = await httpRequest(cluster.masterPort, 'GET', `${u.pathname}${u.search}`);
      assert.equal(r.status, 200, `${l}: ${r.body}`);
      assert.equal(typeof JSON.parse(r.body).data, 'string', `${l}: ${r.body}`);
    }
    await shot(page, '4-scaled');

    // Roll back to the first version (1 instance), then suspend (0 instances).
    const versions = page.locator('#versions button[data-rollback]');
    await waitUntil(async () => (await versions.count()) >= 1, STEP_MS, 'an older version to roll back to');
    await versions.last().click();
    await page.click('dialog#confirm button.confirm-ok');
    await waitUntil(async () => (await running.count()) === 1, STEP_MS, 'the rollback to leave 1 running task');
    await waitUntil(async () => (await page.inputValue('input[name=scale]')) === '1', STEP_MS,
      'the instances input to follow the rolled back app');
    await shot(page, '4b-rolled-back');
    await page.click('button[name=suspend]');
    await page.click('dialog#confirm button.confirm-ok');
    await page.locator('.app-status [data-status=suspended]').waitFor({ timeout: STEP_MS });
    await waitUntil(async () => (await page.locator('#tasks tr[data-task]').count()) === 0, STEP_MS, 'no task left');
    await shot(page, '4c-suspended');
    await page.fill('input[name=scale]', '2');
    await page.click('button[name=scale-apply]');
    await waitUntil(async () => (await running.count()) === 2, STEP_MS, '2 running tasks again');

    // The list shows it running with 2 of 2.
    await page.click('header nav a[data-nav=apps]');
    const row = page.locator(`#apps tr[data-app="${APP}"]`);
    await waitUntil(async () => (await row.locator('.instances').textContent()).trim() === '2 / 2', STEP_MS, '2 / 2 in the list');
    assert.equal(await row.locator('[data-status]').getAttribute('data-status'), 'running');
    await shot(page, '5-list');

    // Destroy, confirmed in the dialog: gone from the list and the API.
    await row.locator('a').click();
    await page.click('button[name=destroy]');
    await page.locator('dialog#confirm[open]').waitFor();
    await shot(page, '6-confirm-destroy');
    await page.click('dialog#confirm button.confirm-ok');
    await page.waitForURL(/#\/apps$/, { timeout: STEP_MS });
    await waitUntil(async () => (await page.locator(`#apps tr[data-app="${APP}"]`).count()) === 0, STEP_MS,
      'the app to leave the list');
    await waitUntil(async () => (await httpRequest(port, 'GET', `/v2/apps${APP}`)).status === 404, STEP_MS,
      'GET /v2/apps/ui-test to answer 404');
    await shot(page, '7-destroyed');
    assert.deepEqual(errors, []);
  } catch (e) {
    await shot(page, 'failure').catch(() => {});
    throw new Error(`${e.message}\n${cluster.logs()}`);
  } finally {
    await page.close();
  }
});

test('an app created in the JSON editor that cannot be placed: its deployment is listed and rolled back', async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    if (/Failed to load resource: the server responded with a status of 404/.test(msg.text())) return;
    errors.push(`console.error: ${msg.text()} (${(msg.location() || {}).url || ""})`);
  });
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  page.on('response', async (r) => { if (r.status() >= 400) console.log('#', r.request().method(), r.url(), r.status(), await r.text().catch(() => '')); });
  try {
    await page.goto(`http://127.0.0.1:${port}/#/create`);
    await page.locator('#live.events').waitFor({ timeout: STEP_MS });
    // More cpus than the slave has: the deployment cannot finish.
    await page.fill('form textarea[name=json]', JSON.stringify({ id: '/too-big', cmd: 'sleep 300', cpus: 100, mem: 16, instances: 1 }));
    assert.equal(await page.inputValue('form input[name=cpus]'), '100', 'the form follows the JSON editor');
    await page.click('form button[name=create]');
    await page.waitForURL(/#\/apps\/too-big$/, { timeout: STEP_MS });
    await page.locator('.app-status [data-status=deploying]').waitFor({ timeout: STEP_MS });
    await waitUntil(async () => /1 waiting to launch/.test(await page.locator('.queue .queue-summary').textContent().catch(() => '')),
      STEP_MS, 'the launch queue to show the app waiting');
    await shot(page, '8a-waiting');
    await page.click('header nav a[data-nav=deployments]');
    const row = page.locator('#deployments tr[data-deployment]', { hasText: '/too-big' });
    await row.waitFor({ timeout: STEP_MS });
    await shot(page, '8-deployment');
    await row.locator('button[data-rollback]').click();
    await page.click('dialog#confirm button.confirm-ok');
    // The rollback of a creation removes the app again.
    await waitUntil(async () => (await page.locator('#deployments tr[data-deployment]').count()) === 0, STEP_MS,
      'the deployments list to empty');
    await waitUntil(async () => (await httpRequest(port, 'GET', '/v2/apps/too-big')).status === 404, STEP_MS,
      'GET /v2/apps/too-big to answer 404 after the rollback');
    await shot(page, '9-rolled-back');
    assert.deepEqual(errors, []);
  } catch (e) {
    await shot(page, 'failure-deployment').catch(() => {});
    throw new Error(`${e.message}\n${cluster.logs()}`);
  } finally {
    await page.close();
  }
});

'use strict';
// One real Marathon client from npm (marathon-node, pinned in
// package-lock.json) drives stoa-services' REST API: it reads /v2/info,
// opens the event stream, creates an app, lists it, waits for its task,
// scales it to 2, reads its tasks, and deletes it. Every step checks what
// the client got back. run-tests.sh starts the cluster and sets
// STOA_SERVICES_URL; exit code 0 = passed, 1 = failed.

const assert = require('node:assert/strict');
const createMarathon = require('marathon-node');

const url = process.env.STOA_SERVICES_URL;
if (!url) {
  console.error('client.test.js: set STOA_SERVICES_URL (run-tests.sh does)');
  process.exit(2);
}
const marathon = createMarathon(url);
const APP = `/client-test-${process.pid}`;
const APP_PATH = APP.slice(1);
const DEADLINE_MS = 60000;

// Resolves with `value` after `ms`: the pause between two polls of waitFor,
// and the bound of a wait for an event (never a synchronisation by itself).
function after(ms, value) {
  return new Promise((r) => setTimeout(() => r(value), ms));
}

// Polls `fn` until it returns a truthy value; throws after DEADLINE_MS with the last value or error.
async function waitFor(what, fn) {
  const deadline = Date.now() + DEADLINE_MS;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${DEADLINE_MS} ms waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    }
    await after(200);
  }
}

function step(name) {
  console.log(`- ${name}`);
}

async function main() {
  step('info.get');
  const info = await marathon.info.get();
  assert.equal(typeof info.version, 'string', `info has no version: ${JSON.stringify(info)}`);
  assert.ok(info.marathon_config, 'info has marathon_config');

  step('events.createEventSource: api_post_event for our app');
  const es = marathon.events.createEventSource({ eventType: ['api_post_event', 'deployment_success'] });
  const posted = new Promise((resolve) => {
    es.addEventListener('api_post_event', (e) => {
      const data = JSON.parse(e.data);
      if (data.appDefinition && data.appDefinition.id === APP) resolve(data);
    });
  });
  await waitFor('the event stream to open', () => es.readyState === 1);

  step(`apps.create ${APP}`);
  const created = await marathon.apps.create({ id: APP, cmd: 'sleep 300', cpus: 0.1, mem: 16, instances: 1 });
  assert.equal(created.id, APP);
  assert.equal(created.instances, 1);
  assert.ok(Array.isArray(created.deployments) && created.deployments.length === 1,
    `create answers one deployment: ${JSON.stringify(created.deployments)}`);
  const event = await Promise.race([posted, after(10000, null)]);
  assert.ok(event, 'no api_post_event for the new app within 10 s');
  assert.equal(event.eventType, 'api_post_event');

  step('apps.getList lists it');
  const list = await marathon.apps.getList();
  const listed = list.apps.find((a) => a.id === APP);
  assert.ok(listed, `GET /v2/apps lacks ${APP}: ${JSON.stringify(list.apps.map((a) => a.id))}`);
  assert.equal(listed.cmd, 'sleep 300');
  assert.deepEqual(listed.labels, {});

  step('apps.getOne until its task runs');
  await waitFor('1 running task', async () => (await marathon.apps.getOne(APP_PATH)).app.tasksRunning === 1);

  step('apps.update instances 2');
  const scaled = await marathon.apps.update(APP_PATH, { instances: 2 });
  assert.equal(typeof scaled.deploymentId, 'string');
  assert.equal(typeof scaled.version, 'string');

  step('apps.getTasks until 2 run');
  const tasks = await waitFor('2 running tasks', async () => {
    const t = (await marathon.apps.getTasks(APP_PATH)).tasks;
    return t.length === 2 && t.every((x) => x.state === 'TASK_RUNNING') && t;
  });
  for (const t of tasks) {
    assert.equal(t.appId, APP);
    assert.ok(t.host, `task ${t.id} has no host`);
    assert.ok(Array.isArray(t.healthCheckResults), `task ${t.id} lacks healthCheckResults`);
  }
  assert.notEqual(tasks[0].id, tasks[1].id);

  step('deployments.getList empties');
  await waitFor('no deployment of the app', async () =>
    !(await marathon.deployments.getList()).some((d) => (d.affectedApps || []).includes(APP)));

  step('apps.getVersions has 2 versions');
  const versions = await marathon.apps.getVersions(APP_PATH);
  assert.ok(versions.versions.length >= 2, `versions: ${JSON.stringify(versions)}`);

  step('apps.destroy');
  const destroyed = await marathon.apps.destroy(APP_PATH);
  assert.equal(typeof destroyed.deploymentId, 'string');
  const gone = await waitFor('the app to be gone (404)', async () => {
    try {
      await marathon.apps.getOne(APP_PATH);
      return false;
    } catch (e) {
      return e.statusCode === 404 && e;
    }
  });
  assert.match(gone.error.message, /does not exist/);
  es.close();
}

main().then(() => {
  console.log('client.test.js: passed');
  process.exit(0);
}, (e) => {
  console.error(`client.test.js: FAILED: ${e.stack || e}`);
  process.exit(1);
});

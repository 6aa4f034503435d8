// The UI's connection logic without a browser (webui/app/live.js and api.js):
// fetch, EventSource and location are fakes the test answers one by one, and
// the timers are node's mock timers, so each race is played in a fixed order.

import { test, mock } from 'node:test';
import assert from 'node:assert/strict';

const requests = [];  // fetches not answered yet: {path, answer(status, body), fail(message)}
const streams = [];   // every EventSource the page opened
const moves = [];     // every location.assign

globalThis.location = { origin: 'http://master', hash: '#/agents', assign: (u) => moves.push(u) };
globalThis.fetch = (path) => new Promise((resolve, reject) => {
  requests.push({
    path,
    answer(status, body = {}) {
      const text = JSON.stringify(body);
      resolve({
        status, ok: status >= 200 && status < 300, type: status === 0 ? 'opaqueredirect' : 'basic',
        json: async () => JSON.parse(text), text: async () => text,
      });
    },
    fail(message) {
      reject(new TypeError(message));
    },
  });
});
globalThis.EventSource = class {
  constructor(url) {
    this.url = url;
    this.closed = false;
    streams.push(this);
  }

  addEventListener() {}

  close() {
    this.closed = true;
  }
};

mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] });
const { start, loadFlags } = await import('../../webui/app/live.js');
const { followLeader } = await import('../../webui/app/api.js');
const { store } = await import('../../webui/app/store.js');

// Lets every promise that can go on do so (the fakes answer asynchronously).
async function settle() {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
}

// The one unanswered request for `path`, once the page has made it.
async function next(path) {
  await settle();
  const i = requests.findIndex((r) => r.path === path);
  assert.ok(i >= 0, `the page asks for ${path} (waiting: ${requests.map((r) => r.path).join(', ') || 'none'})`);
  return requests.splice(i, 1)[0];
}

const state = { id: 'm1', slaves: [], frameworks: [], completed_frameworks: [], orphan_tasks: [] };

test('a state read that answers after the stream broke does not stop the reconnection re-reading flags and state', async () => {
  start();
  (await next('/master/flags')).answer(200, { flags: { webui_read_only: 'false' } });
  (await next('/master/state')).answer(200, state);
  (await next('/master/utilization')).answer(404);
  await settle();
  assert.equal(streams.length, 1, 'the stream is opened');
  const first = streams[0];
  first.onopen();
  const late = await next('/master/state');
  // The master goes away while that read is on the wire, and the stream breaks.
  first.onerror();
  assert.ok(first.closed, 'the broken stream is closed');
  late.answer(200, state);  // its answer still arrives
  await settle();
  assert.equal(requests.length, 0, `nothing else is asked before the retry (${requests.map((r) => r.path)})`);

  // The master is back with --webui_read_only: the reopened stream re-reads both.
  mock.timers.tick(500);
  assert.equal(streams.length, 2, 'the stream is reopened after the backoff');
  streams[1].onopen();
  (await next('/master/flags')).answer(200, { flags: { webui_read_only: 'true' } });
  (await next('/master/state')).answer(200, { ...state, id: 'm2' });
  (await next('/master/utilization')).answer(404);
  await settle();
  assert.equal(store.flags.webui_read_only, 'true', "the returning master's flags");
  assert.equal(store.state.id, 'm2', "the returning master's state");
});

test('only the newest flags read is applied', async () => {
  loadFlags();
  const older = await next('/master/flags');
  loadFlags();
  const newer = await next('/master/flags');
  newer.answer(200, { flags: { webui_read_only: 'false' } });
  older.answer(200, { flags: { webui_read_only: 'true' } });
  await settle();
  assert.equal(store.flags.webui_read_only, 'false');
});

test('a page that cannot learn where the leader is asks again until it moves, and again if the move does not happen', async () => {
  location.hash = '#/agents';
  followLeader();
  (await next('/master/redirect')).fail('Failed to fetch');
  await settle();
  assert.deepEqual(moves, [], 'no move without an answer');
  mock.timers.tick(1000);
  (await next('/master/redirect')).answer(503, { message: 'No leader elected' });
  await settle();
  assert.deepEqual(moves, []);
  mock.timers.tick(1000);
  (await next('/master/redirect')).answer(0);  // a redirect, not followed
  await settle();
  assert.deepEqual(moves, ['/master/redirect#/agents'], 'the page moves, on the same view');
  followLeader();  // another request got 307 meanwhile: the move is under way
  await settle();
  assert.equal(requests.filter((r) => r.path === '/master/redirect').length, 0, 'no second ask while moving');
  // The navigation did not happen (cancelled, or its answer lost): ask again.
  mock.timers.tick(10000);
  (await next('/master/redirect')).answer(0);
  await settle();
  assert.deepEqual(moves, ['/master/redirect#/agents', '/master/redirect#/agents']);
  mock.timers.reset();
});

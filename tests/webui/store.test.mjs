// The UI's event handling without a browser: /master/events frames applied
// to a /master/state copy (webui/app/store.js).

import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { store, setState, applyEvent, allTasks, frameworkById, slaveById } from '../../webui/app/store.js';

function baseState() {
  return {
    id: 'm1', slaves: [{ id: 's1', hostname: 'h1', active: true, resources: { cpus: 4, mem: 1024 },
      used_resources: { cpus: 0, mem: 0 } }],
    frameworks: [{ id: 'f1', name: 'web', active: true, used_resources: { cpus: 0, mem: 0 }, tasks: [],
      completed_tasks: [], unreachable_tasks: [], offers: [] }],
    completed_frameworks: [], orphan_tasks: [],
  };
}

const task = (id, state = 'TASK_STAGING') => ({
  id, name: id, framework_id: 'f1', slave_id: 's1', state, resources: { cpus: 0.5, mem: 64 },
  statuses: [{ state, timestamp: 100 }],
});

beforeEach(() => {
  setState(baseState());
  store.cluster = null;
});

test('TASK_ADDED adds an active task once and charges its resources', () => {
  assert.equal(applyEvent('TASK_ADDED', { task: task('t1') }), true);
  assert.equal(applyEvent('TASK_ADDED', { task: task('t1') }), false, 'a duplicate changes nothing');
  assert.deepEqual(allTasks().map((x) => [x.task.id, x.kind]), [['t1', 'active']]);
  assert.equal(slaveById('s1').used_resources.cpus, 0.5);
  assert.equal(frameworkById('f1').used_resources.mem, 64);
});

test('TASK_UPDATED to a terminal state moves the task to completed with its status', () => {
  applyEvent('TASK_ADDED', { task: task('t1') });
  applyEvent('TASK_UPDATED', { framework_id: 'f1', task_id: 't1', slave_id: 's1', state: 'TASK_RUNNING',
    status: { state: 'TASK_RUNNING', timestamp: 101 } });
  assert.equal(frameworkById('f1').tasks[0].state, 'TASK_RUNNING');
  const killed = { state: 'TASK_KILLED', timestamp: 102, reason: 'REASON_TASK_KILLED', message: 'by operator' };
  applyEvent('TASK_UPDATED', { framework_id: 'f1', task_id: 't1', slave_id: 's1', state: 'TASK_KILLED', status: killed });
  applyEvent('TASK_UPDATED', { framework_id: 'f1', task_id: 't1', slave_id: 's1', state: 'TASK_KILLED', status: killed });
  const f = frameworkById('f1');
  assert.equal(f.tasks.length, 0);
  assert.equal(f.completed_tasks.length, 1);
  assert.deepEqual(f.completed_tasks[0].statuses.map((s) => s.state), ['TASK_STAGING', 'TASK_RUNNING', 'TASK_KILLED'],
    'a repeated status is kept once');
  assert.equal(f.completed_tasks[0].statuses[2].message, 'by operator');
  assert.equal(slaveById('s1').used_resources.cpus, 0);
});

test('an update for an unknown framework changes nothing', () => {
  assert.equal(applyEvent('TASK_UPDATED', { framework_id: 'nope', task_id: 't', state: 'TASK_FAILED' }), false);
  assert.equal(applyEvent('NOT_AN_EVENT', {}), false);
});

test('AGENT_ADDED, AGENT_UPDATED and AGENT_REMOVED keep the slave list and counts', () => {
  applyEvent('AGENT_ADDED', { agent: { id: 's2', hostname: 'h2', active: true } });
  assert.equal(store.state.activated_slaves, 2);
  applyEvent('AGENT_UPDATED', { agent: { id: 's2', active: false } });
  assert.equal(slaveById('s2').hostname, 'h2', 'an update keeps what it does not name');
  assert.equal(store.state.deactivated_slaves, 1);
  applyEvent('AGENT_REMOVED', { agent_id: 's2' });
  assert.equal(slaveById('s2'), null);
});

test('FRAMEWORK_UPDATED keeps the tasks; FRAMEWORK_REMOVED completes the framework and its tasks', () => {
  applyEvent('TASK_ADDED', { task: task('t1', 'TASK_RUNNING') });
  applyEvent('FRAMEWORK_UPDATED', { framework: { id: 'f1', name: 'web2', active: false } });
  assert.equal(frameworkById('f1').name, 'web2');
  assert.equal(frameworkById('f1').tasks.length, 1);
  applyEvent('FRAMEWORK_REMOVED', { framework_id: 'f1' });
  assert.equal(store.state.frameworks.length, 0);
  assert.equal(store.state.completed_frameworks[0].completed_tasks.length, 1);
  assert.equal(slaveById('s1').used_resources.cpus, 0);
  applyEvent('FRAMEWORK_ADDED', { framework: { id: 'f2', name: 'batch' } });
  assert.deepEqual(frameworkById('f2').tasks, []);
});

test('UTILIZATION appends samples in time order and keeps 15 minutes', () => {
  for (let i = 0; i < 200; i++) applyEvent('UTILIZATION', { timestamp: 1000 + 5 * i, cpus: { used: i } });
  assert.equal(applyEvent('UTILIZATION', { timestamp: 1000, cpus: {} }), false, 'an old sample is dropped');
  assert.equal(store.cluster.cluster.length, 180);
  assert.equal(store.cluster.cluster[179].cpus.used, 199);
});

test('UTILIZATION in the newest sample\'s interval replaces it, as the master does', () => {
  applyEvent('UTILIZATION', { timestamp: 1000, cpus: { used: 1 } });
  applyEvent('UTILIZATION', { timestamp: 1003, cpus: { used: 2 } });
  assert.equal(store.cluster.cluster.length, 1);
  assert.equal(store.cluster.cluster[0].cpus.used, 2);
  applyEvent('UTILIZATION', { timestamp: 1005, cpus: { used: 3 } });
  assert.equal(store.cluster.cluster.length, 2);
});

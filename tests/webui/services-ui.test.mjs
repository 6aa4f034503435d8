// The services page's pure logic without a browser (apps/services/ui/model.js):
// app status and health, the create form <-> JSON, constraints, where a 422
// detail is shown, and the links to a task's logs through the master.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  appStatus, appHealth, taskHealth, taskAddress, parseConstraints, formatConstraints, applyForm, formFromDef,
  fieldOfPath, errorsByField, masterUrl, sandboxOf, logUrl, queueSummary,
} from '../../apps/services/ui/model.js';

test('an app is deploying, suspended, waiting or running', () => {
  assert.equal(appStatus({ instances: 2, tasksRunning: 2, deployments: [{ id: 'd' }] }), 'deploying');
  assert.equal(appStatus({ instances: 0, tasksRunning: 0, deployments: [] }), 'suspended');
  assert.equal(appStatus({ instances: 3, tasksRunning: 1, deployments: [] }), 'waiting');
  assert.equal(appStatus({ instances: 2, tasksRunning: 2, deployments: [] }), 'running');
});

test('health counts: running tasks without a result are unknown', () => {
  assert.deepEqual(appHealth({ instances: 4, tasksRunning: 3, tasksHealthy: 1, tasksUnhealthy: 1 }),
    { healthy: 1, unhealthy: 1, unknown: 1, total: 4 });
  assert.deepEqual(appHealth({ instances: 1, tasksRunning: 2, tasksHealthy: 0, tasksUnhealthy: 0 }),
    { healthy: 0, unhealthy: 0, unknown: 2, total: 2 });
  assert.equal(taskHealth({ healthCheckResults: [] }), 'unknown');
  assert.equal(taskHealth({ healthCheckResults: [{ alive: true }, { alive: false }] }), 'unhealthy');
  assert.equal(taskHealth({ healthCheckResults: [{ alive: true }] }), 'healthy');
  assert.equal(taskAddress({ host: 'h1', ports: [31000, 31001] }), 'h1:31000,31001');
  assert.equal(taskAddress({ host: 'h1', ports: [] }), 'h1');
});

test('constraints are one field:OPERATOR[:value] per line; values keep their colons', () => {
  assert.deepEqual(parseConstraints('hostname:unique\n\n rack:GROUP_BY:2 \nzone:LIKE:a:b'),
    { constraints: [['hostname', 'UNIQUE'], ['rack', 'GROUP_BY', '2'], ['zone', 'LIKE', 'a:b']] });
  assert.match(parseConstraints('hostname').error, /line 1 'hostname'/);
  assert.match(parseConstraints('ok:UNIQUE\n:CLUSTER').error, /line 2/);
  assert.equal(formatConstraints([['hostname', 'UNIQUE'], ['rack', 'IS', 'r1']]), 'hostname:UNIQUE\nrack:IS:r1');
});

test('the form writes into the JSON and keeps what the form lacks', () => {
  const r = applyForm({ id: '/old', env: { A: '1' }, cpus: 1 },
    { id: ' /web ', cmd: 'sleep 1', cpus: '0.5', mem: '', instances: 'two', constraints: 'hostname:UNIQUE' });
  assert.deepEqual(r.def, { id: '/web', env: { A: '1' }, cmd: 'sleep 1', cpus: 0.5, instances: 'two',
    constraints: [['hostname', 'UNIQUE']] });
  assert.equal(applyForm({}, { constraints: 'x' }).field, 'constraints');
  assert.deepEqual(formFromDef({ id: '/a', cpus: 0.1, instances: 0, constraints: [['a', 'UNIQUE']] }),
    { id: '/a', cmd: '', cpus: '0.1', mem: '', instances: '0', constraints: 'a:UNIQUE' });
});

test('a 422 detail is shown at the field its path names, the rest at the JSON editor', () => {
  assert.equal(fieldOfPath('/id'), 'id');
  assert.equal(fieldOfPath('/constraints(0)'), 'constraints');
  assert.equal(fieldOfPath('/constraints/0/1'), 'constraints');
  assert.equal(fieldOfPath('/healthChecks(0)/path'), null);
  assert.equal(fieldOfPath(''), null);
  const by = errorsByField([{ path: '/id', errors: ['bad id', 'too long'] }, { path: '/env/A', errors: ['x'] },
    { path: '/cpus', errors: ['error.expected.jsnumber'] }]);
  assert.deepEqual(by.get('id'), ['bad id', 'too long']);
  assert.deepEqual(by.get('cpus'), ['error.expected.jsnumber']);
  assert.deepEqual(by.get(null), ['/env/A: x']);
});

test('logs are read through the master from the task\'s virtual sandbox', () => {
  assert.equal(masterUrl({ marathon_config: { mesos_leader_ui_url: 'http://m:5050/' } }), 'http://m:5050');
  assert.equal(masterUrl({ marathon_config: { master: '10.0.0.1:5050' } }), 'http://10.0.0.1:5050');
  assert.equal(masterUrl({ marathon_config: { master: 'zk://z:2181/mesos' } }), '');
  assert.equal(masterUrl(null), '');
  const task = { id: 'web.instance-1._app.1', slaveId: 'S1' };
  const sandbox = sandboxOf(task, 'F-0000');
  assert.equal(sandbox, '/frameworks/F-0000/executors/web.instance-1._app.1/runs/latest');
  const u = new URL(logUrl('http://m:5050', task, sandbox, 'stdout'));
  assert.equal(u.pathname, '/files/read');
  assert.equal(u.searchParams.get('path'), `${sandbox}/stdout`);
  assert.equal(u.searchParams.get('slave_id'), 'S1');
  assert.equal(u.searchParams.get('offset'), '0');
});

test('a launch queue entry says how many wait, the delay and why offers were declined', () => {
  assert.equal(queueSummary(null), '');
  assert.equal(queueSummary({ count: 2, delay: { timeLeftSeconds: 0, overdue: true } }), '2 waiting to launch');
  assert.equal(queueSummary({
    count: 1, delay: { timeLeftSeconds: 12, overdue: false },
    processedOffersSummary: { rejectSummaryLastOffers: [
      { reason: 'InsufficientMemory', declined: 1, processed: 4 }, { reason: 'InsufficientCpus', declined: 4, processed: 4 },
      { reason: 'UnfulfilledRole', declined: 0, processed: 4 }] },
  }), '1 waiting to launch; delayed 12s; offers declined: InsufficientCpus 4/4, InsufficientMemory 1/4');
});

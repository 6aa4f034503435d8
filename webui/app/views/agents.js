// #/agents and #/agents/<id>: slaves, and one slave's resources, tasks and
// utilization chart (/master/utilization?slave_id=<id>, read every 15 s).

import { store, slaveById, allTasks, frameworkName } from '../store.js';
import { getOptionalJSON, HttpError, query } from '../api.js';
import {
  html, kv, fmtNumber, fmtMB, fmtResources, fmtResourcesByRole, fmtTime, fmtAgo, stateBadge, pagedTable, wireTable, taskStartTime,
  sandboxHref,
  setHTML,
} from '../util.js';
import { ChartGroup } from '../charts.js';
import { killButton } from '../actions.js';

function attrs(a) {
  const o = a.attributes || {};
  return Object.keys(o).sort().map((k) => `${k}:${o[k]}`).join('; ');
}

export function mountList(root) {
  root.innerHTML = '<h1>Slaves</h1><div id="agents-body"></div>';
  const el = root.querySelector('#agents-body');
  const st = { page: 0, sortKey: 1, sortDesc: false };
  const cols = [
    { title: 'ID', key: (a) => a.id, cell: (a) => html`<a href="#/agents/${encodeURIComponent(a.id)}">${a.id}</a>`.s },
    { title: 'Host', key: (a) => a.hostname, cell: (a) => html`${a.hostname}:${a.port}`.s },
    { title: 'State', key: (a) => (a.active ? 0 : 1),
      cell: (a) => html`<span class="badge ${a.active ? 'ok' : 'bad'}">${a.active ? 'active' : 'inactive'}</span>`.s },
    { title: 'CPUs (used / total)', key: (a) => (a.used_resources || {}).cpus || 0,
      cell: (a) => html`${(a.used_resources || {}).cpus ?? 0} / ${(a.resources || {}).cpus ?? 0}`.s },
    { title: 'Mem (used / total)', key: (a) => (a.used_resources || {}).mem || 0,
      cell: (a) => html`${(a.used_resources || {}).mem ?? 0} / ${(a.resources || {}).mem ?? 0} MB`.s },
    { title: 'Disk (used / total)', key: (a) => (a.used_resources || {}).disk || 0,
      cell: (a) => html`${(a.used_resources || {}).disk ?? 0} / ${(a.resources || {}).disk ?? 0} MB`.s },
    { title: 'Attributes', key: attrs, cell: (a) => html`${attrs(a)}`.s },
    { title: 'Registered', key: (a) => a.registered_time, cell: (a) => html`${fmtAgo(a.registered_time)}`.s },
  ];
  function render() {
    const s = store.state;
    if (!s) return;
    const changed = setHTML(el, html`${pagedTable(s.slaves || [], cols, { ...st, id: 'agents', empty: 'No slave is registered.' })}
      <p class="muted">Unreachable slaves: ${s.unreachable_slaves ?? 0}; recovered, not yet re-registered: ${
        (s.recovered_slaves || []).length}</p>`);
    if (changed) wireTable(el, 'agents', st, render);
  }
  render();
  return { update: render, destroy() {} };
}

// The slave reports every 5 s by default; its chart's buckets are 15 s.
const SLAVE_UTILIZATION_MS = 5000;

export function mountDetail(root, params) {
  const id = params.id;
  root.innerHTML = `<div id="agent-body"></div><h2>Utilization, last 15 minutes</h2>
    <div id="agent-charts" class="charts"><div class="chart-empty">loading…</div></div>`;
  const body = root.querySelector('#agent-body');
  const chartsRoot = root.querySelector('#agent-charts');
  const st = { page: 0, sortKey: 3, sortDesc: true };
  let charts = null;
  let timer = null;
  let stopped = false;
  // "<framework>/<executor>" → {cpus_used?, mem_used?, disk_used?} of the slave's latest report.
  let usage = new Map();

  async function loadUsage() {
    try {
      const u = await getOptionalJSON(`/master/utilization${query({ slave_id: id })}`);
      if (stopped) return;
      if (u === null) {
        if (charts) charts.destroy();
        charts = null;
        chartsRoot.innerHTML = '<div class="chart-empty">no data (no utilization for this slave)</div>';
      } else {
        if (!charts) charts = new ChartGroup(chartsRoot);
        charts.update(u.samples || []);
      }
      usage = new Map(((u && u.executors) || []).map((e) => [`${e.framework_id}/${e.executor_id}`, e]));
      render();
    } catch (e) {
      if (!stopped && !(e instanceof HttpError && e.status === 0)) {
        chartsRoot.innerHTML = html`<div class="chart-empty">no data: ${e.message}</div>`.s;
        if (charts) charts.destroy();
        charts = null;
      }
    }
    if (!stopped) timer = setTimeout(loadUsage, SLAVE_UTILIZATION_MS);
  }

  const cols = [
    { title: 'ID', key: (t) => t.id, cell: (t) => html`${t.id}`.s },
    { title: 'Name', key: (t) => t.name, cell: (t) => html`${t.name}`.s },
    { title: 'Framework', key: (t) => frameworkName(t.framework_id),
      cell: (t) => html`<a href="#/frameworks/${encodeURIComponent(t.framework_id)}">${frameworkName(t.framework_id)}</a>`.s },
    { title: 'Started', key: taskStartTime, cell: (t) => html`${fmtAgo(taskStartTime(t))}`.s },
    { title: 'State', key: (t) => t.state, cell: (t) => stateBadge(t.state).s },
    { title: 'Resources', cell: (t) => html`${fmtResources(t.resources)}`.s },
    { title: 'CPUs used', key: (t) => used(t, 'cpus_used'), cell: (t) => html`${fmtNumber(used(t, 'cpus_used'), 3)}`.s },
    { title: 'Mem used', key: (t) => used(t, 'mem_used'),
      cell: (t) => html`<span class="mem-used">${fmtMB(used(t, 'mem_used'))}</span>`.s },
    { title: '', cell: (t) => html`<a href="${sandboxHref(t)}">Sandbox</a> ${killButton(t)}`.s },
  ];

  // What the task's executor was measured to use (undefined: not measured yet).
  function used(t, field) {
    const e = usage.get(`${t.framework_id}/${t.executor_id || t.id}`);
    return e ? e[field] : undefined;
  }

  function render() {
    if (!store.state) return;
    const a = slaveById(id);
    if (!a) {
      setHTML(body, html`<h1>Slave ${id}</h1><p class="error">The master knows no registered slave '${id}'.</p>`);
      return;
    }
    const reserved = a.reserved_resources || {};
    const tasks = allTasks().filter((x) => x.kind === 'active' && x.task.slave_id === id).map((x) => x.task);
    setHTML(body, html`
      <h1>Slave ${a.hostname}:${a.port} <span class="muted small">${a.id}</span></h1>
      <div class="grid">
        <section class="card"><h3>Slave</h3>${kv([
          ['ID', a.id], ['PID', a.pid], ['State', a.active ? 'active' : 'inactive'], ['Version', a.version || '-'],
          ['Registered', fmtTime(a.registered_time)],
          ['Re-registered', a.reregistered_time ? fmtTime(a.reregistered_time) : '-'],
          ['Attributes', attrs(a) || '-'],
        ])}</section>
        <section class="card"><h3>Resources</h3>${kv([
          ['Total', fmtResources(a.resources)],
          ['Used', fmtResources(a.used_resources)],
          ['Offered', fmtResources(a.offered_resources)],
          ['Unreserved', fmtResources(a.unreserved_resources)],
          ...Object.keys(reserved).sort().map((r) => [`Reserved for ${r}`, fmtResources(reserved[r])]),
          ['Allocated, reserved', a.reserved_resources_allocated ? fmtResourcesByRole(a.reserved_resources_allocated) : '-'],
          ['Allocated, unreserved', a.unreserved_resources_allocated ? fmtResources(a.unreserved_resources_allocated) : '-'],
        ])}</section>
      </div>
      <h2>Running tasks</h2><div id="agent-tasks"></div>`);
    const te = body.querySelector('#agent-tasks');
    if (setHTML(te, pagedTable(tasks, cols, { ...st, id: 'agent-tasks-table', empty: 'No task runs here.' }))) {
      wireTable(te, 'agent-tasks-table', st, render);
    }
  }
  render();
  loadUsage();
  return {
    update: render,
    destroy() {
      stopped = true;
      clearTimeout(timer);
      if (charts) charts.destroy();
    },
  };
}

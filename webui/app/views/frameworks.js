// #/frameworks and #/frameworks/<id>: frameworks, their tasks, and the
// failure history (every terminated task with its state, reason and message).

import { store, frameworkById, slaveName } from '../store.js';
import {
  html, raw, kv, fmtResources, fmtTime, fmtAgo, fmtDuration, stateBadge, pagedTable, wireTable,
  lastStatus, taskStartTime, taskEndTime, sandboxHref,
  setHTML,
} from '../util.js';
import { killButton, teardownButton } from '../actions.js';


export function mountList(root) {
  root.innerHTML = '<h1>Frameworks</h1><div id="fw-active"></div><h2>Completed frameworks</h2><div id="fw-completed"></div>';
  const st = { active: { page: 0, sortKey: 0, sortDesc: false }, completed: { page: 0, sortKey: 0, sortDesc: false } };
  function columns(completed) {
    return [
      { title: 'ID', key: (f) => f.id, cell: (f) => html`<a href="#/frameworks/${encodeURIComponent(f.id)}">${f.id}</a>`.s },
      { title: 'Name', key: (f) => f.name, cell: (f) => html`${f.name}`.s },
      { title: 'Host', key: (f) => f.hostname, cell: (f) => html`${f.hostname}`.s },
      { title: 'User', key: (f) => f.user, cell: (f) => html`${f.user}`.s },
      { title: 'Roles', key: (f) => (f.roles || []).join(','), cell: (f) => html`${(f.roles || [f.role]).join(', ')}`.s },
      { title: 'Active tasks', key: (f) => f.tasks.length, cell: (f) => String(f.tasks.length) },
      { title: 'Resources', key: (f) => (f.used_resources || {}).cpus || 0, cell: (f) => html`${fmtResources(f.used_resources)}`.s },
      { title: completed ? 'Unregistered' : 'Registered', key: (f) => (completed ? f.unregistered_time : f.registered_time),
        cell: (f) => html`${fmtAgo(completed ? f.unregistered_time : f.registered_time)}`.s },
      ...(completed ? [] : [{ title: '', cell: (f) => teardownButton(f).s }]),
    ];
  }
  function render() {
    const s = store.state;
    if (!s) return;
    for (const [kind, list] of [['active', s.frameworks || []], ['completed', s.completed_frameworks || []]]) {
      const el = root.querySelector(`#fw-${kind}`);
      if (setHTML(el, pagedTable(list, columns(kind === 'completed'), { ...st[kind], id: `frameworks-${kind}`,
        empty: kind === 'active' ? 'No frameworks are registered.' : 'None.' }))) {
        wireTable(el, `frameworks-${kind}`, st[kind], render);
      }
    }
  }
  render();
  return { update: render, destroy() {} };
}

const FAILURE_STATES = new Set(['TASK_FAILED', 'TASK_LOST', 'TASK_ERROR', 'TASK_DROPPED', 'TASK_GONE']);

export function mountDetail(root, params) {
  const id = params.id;
  root.innerHTML = '<div id="fw-detail"></div>';
  const body = root.querySelector('#fw-detail');
  const st = { tasks: { page: 0, sortKey: 4, sortDesc: true }, history: { page: 0, sortKey: 4, sortDesc: true } };
  const taskCols = [
    { title: 'ID', key: (t) => t.id, cell: (t) => html`${t.id}`.s },
    { title: 'Name', key: (t) => t.name, cell: (t) => html`${t.name}`.s },
    { title: 'State', key: (t) => t.state, cell: (t) => stateBadge(t.state).s },
    { title: 'Slave', key: (t) => slaveName(t.slave_id),
      cell: (t) => html`<a href="#/agents/${encodeURIComponent(t.slave_id)}">${slaveName(t.slave_id)}</a>`.s },
    { title: 'Started', key: (t) => taskStartTime(t), cell: (t) => html`${fmtAgo(taskStartTime(t))}`.s },
    { title: 'Resources', cell: (t) => html`${fmtResources(t.resources)}`.s },
    { title: '', cell: (t) => html`<a href="${sandboxHref(t)}">Sandbox</a> ${killButton(t)}`.s },
  ];
  const historyCols = [
    { title: 'ID', key: (t) => t.id, cell: (t) => html`${t.id}`.s },
    { title: 'State', key: (t) => t.state, cell: (t) => stateBadge(t.state).s },
    { title: 'Reason', key: (t) => (lastStatus(t) || {}).reason, cell: (t) => html`${(lastStatus(t) || {}).reason || '-'}`.s },
    { title: 'Message', cell: (t) => html`<span class="message">${(lastStatus(t) || {}).message || '-'}</span>`.s },
    { title: 'Ended', key: (t) => taskEndTime(t), cell: (t) => html`${fmtTime(taskEndTime(t))}`.s },
    { title: 'Ran for', key: (t) => taskEndTime(t) - taskStartTime(t),
      cell: (t) => html`${fmtDuration(taskEndTime(t) - taskStartTime(t))}`.s },
    { title: 'Slave', key: (t) => slaveName(t.slave_id), cell: (t) => html`${slaveName(t.slave_id)}`.s },
    { title: '', cell: (t) => html`<a href="${sandboxHref(t)}">Sandbox</a>`.s },
  ];

  function render() {
    const f = frameworkById(id);
    if (!store.state) return;
    if (!f) {
      setHTML(body, html`<h1>Framework ${id}</h1><p class="error">The master knows no framework '${id}'.</p>`);
      return;
    }
    const completed = !(store.state.frameworks || []).includes(f);
    const failures = f.completed_tasks.filter((t) => FAILURE_STATES.has(t.state));
    const byState = {};
    for (const t of f.completed_tasks) byState[t.state] = (byState[t.state] || 0) + 1;
    const lastFailure = failures.reduce((a, t) => (!a || taskEndTime(t) > taskEndTime(a) ? t : a), null);
    setHTML(body, html`
      <h1>Framework ${f.name} <span class="muted small">${f.id}</span> ${completed ? raw('') : teardownButton(f)}</h1>
      <div class="grid">
        <section class="card"><h3>Framework</h3>${kv([
          ['ID', f.id], ['Name', f.name], ['User', f.user], ['Host', f.hostname], ['Principal', f.principal || '-'],
          ['Roles', (f.roles || [f.role]).join(', ')], ['Failover timeout', fmtDuration(f.failover_timeout)],
          ['Checkpoint', f.checkpoint ? 'yes' : 'no'],
          ['State', completed ? 'completed' : f.active ? (f.connected ? 'active' : 'disconnected') : 'inactive'],
          ['Registered', fmtTime(f.registered_time)],
          ['Web UI', f.webui_url ? raw(html`<a href="${f.webui_url}" rel="noopener">${f.webui_url}</a>`.s) : '-'],
        ])}</section>
        <section class="card"><h3>Resources</h3>${kv([
          ['Used', fmtResources(f.used_resources)], ['Offered', fmtResources(f.offered_resources)],
          ['Active tasks', f.tasks.length], ['Unreachable tasks', f.unreachable_tasks.length],
          ['Outstanding offers', f.offers.length],
        ])}</section>
        <section class="card"><h3>Terminated tasks</h3>${kv([
          ...Object.keys(byState).sort().map((k) => [stateBadge(k), byState[k]]),
          ['Failures', failures.length],
          ['Last failure', lastFailure ? `${lastFailure.id} ${fmtAgo(taskEndTime(lastFailure))}: ${
            (lastStatus(lastFailure) || {}).message || (lastStatus(lastFailure) || {}).reason || lastFailure.state}` : '-'],
        ])}</section>
      </div>
      <h2>Active tasks</h2><div id="fw-tasks"></div>
      <h2>Failure history <span class="muted small">(every terminated task, newest first)</span></h2><div id="fw-history"></div>`);
    const tasks = [...f.tasks, ...f.unreachable_tasks];
    const te = body.querySelector('#fw-tasks');
    if (setHTML(te, pagedTable(tasks, taskCols, { ...st.tasks, id: 'framework-tasks', empty: 'No active tasks.' }))) {
      wireTable(te, 'framework-tasks', st.tasks, render);
    }
    const he = body.querySelector('#fw-history');
    if (setHTML(he, pagedTable(f.completed_tasks, historyCols,
      { ...st.history, id: 'framework-history', empty: 'No task has terminated.' }))) {
      wireTable(he, 'framework-history', st.history, render);
    }
  }
  render();
  return { update: render, destroy() {} };
}

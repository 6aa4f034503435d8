// #/tasks: every task the master knows (active, unreachable, completed),
// searchable by id or name, filtered by state, framework and slave, 50 rows
// a page. Only the table is redrawn on updates, so the inputs keep focus.

import { store, allTasks, frameworkName, slaveName } from '../store.js';
import { html, esc, fmtAgo, fmtResources, stateBadge, pagedTable, wireTable, taskStartTime, taskEndTime,
  sandboxHref, setHTML,
} from '../util.js';
import { killButton } from '../actions.js';

export function mount(root, params) {
  const f = {
    text: params.query.get('q') || '',
    state: params.query.get('state') || '',
    framework: params.query.get('framework_id') || '',
    slave: params.query.get('slave_id') || '',
    kind: params.query.get('kind') || 'all',
  };
  const st = { page: 0, sortKey: 5, sortDesc: true };
  root.innerHTML = `<h1>Tasks</h1>
    <div class="filters">
      <input id="task-search" type="search" placeholder="Search id or name" aria-label="Search tasks">
      <select id="task-kind" aria-label="Which tasks">
        <option value="all">Active and completed</option><option value="active">Active</option>
        <option value="completed">Completed</option></select>
      <select id="task-state" aria-label="State"></select>
      <select id="task-framework" aria-label="Framework"></select>
      <select id="task-slave" aria-label="Slave"></select>
    </div><div id="tasks-body"></div>`;
  const body = root.querySelector('#tasks-body');
  const search = root.querySelector('#task-search');
  const kind = root.querySelector('#task-kind');
  const state = root.querySelector('#task-state');
  const fw = root.querySelector('#task-framework');
  const slave = root.querySelector('#task-slave');
  search.value = f.text;
  kind.value = f.kind;

  const cols = [
    { title: 'ID', key: (t) => t.id, cell: (t) => html`<span class="task-id">${t.id}</span>`.s },
    { title: 'Name', key: (t) => t.name, cell: (t) => html`${t.name}`.s },
    { title: 'State', key: (t) => t.state, cell: (t) => stateBadge(t.state).s },
    { title: 'Framework', key: (t) => frameworkName(t.framework_id),
      cell: (t) => html`<a href="#/frameworks/${encodeURIComponent(t.framework_id)}">${frameworkName(t.framework_id)}</a>`.s },
    { title: 'Slave', key: (t) => slaveName(t.slave_id),
      cell: (t) => html`<a href="#/agents/${encodeURIComponent(t.slave_id)}">${slaveName(t.slave_id)}</a>`.s },
    { title: 'Started', key: taskStartTime, cell: (t) => html`${fmtAgo(taskStartTime(t))}`.s },
    { title: 'Updated', key: taskEndTime, cell: (t) => html`${fmtAgo(taskEndTime(t))}`.s },
    { title: 'Resources', cell: (t) => html`${fmtResources(t.resources)}`.s },
    { title: '', cell: (t) => html`<a href="${sandboxHref(t)}" class="sandbox-link">Sandbox</a> ${
      t.__active ? killButton(t) : ''}`.s },
  ];

  function options(select, values, label, current) {
    const want = [''].concat(values);
    const key = want.join('\u0000');
    if (select.dataset.key !== key) {
      select.innerHTML = want.map((v) => `<option value="${esc(v)}">${v ? esc(label(v)) : esc(select.getAttribute('aria-label')) + ': any'}</option>`).join('');
      select.dataset.key = key;
    }
    select.value = want.includes(current) ? current : '';
  }

  function render() {
    if (!store.state) return;
    const rows = allTasks();
    const states = new Set();
    const fws = new Set();
    const slaves = new Set();
    for (const { task } of rows) {
      states.add(task.state);
      fws.add(task.framework_id);
      slaves.add(task.slave_id);
    }
    options(state, [...states].sort(), (v) => v.replace(/^TASK_/, ''), f.state);
    options(fw, [...fws].sort(), (v) => `${frameworkName(v)} (${v})`, f.framework);
    options(slave, [...slaves].sort(), (v) => slaveName(v), f.slave);
    const needle = f.text.trim().toLowerCase();
    const shown = [];
    for (const { task, kind: k } of rows) {
      if (f.kind === 'active' && k === 'completed') continue;
      if (f.kind === 'completed' && k !== 'completed') continue;
      if (f.state && task.state !== f.state) continue;
      if (f.framework && task.framework_id !== f.framework) continue;
      if (f.slave && task.slave_id !== f.slave) continue;
      if (needle && !String(task.id).toLowerCase().includes(needle) &&
          !String(task.name || '').toLowerCase().includes(needle)) continue;
      task.__active = k === 'active';
      shown.push(task);
    }
    if (setHTML(body, pagedTable(shown, cols, { ...st, id: 'tasks', empty: 'No task matches.' }))) {
      wireTable(body, 'tasks', st, render);
    }
  }

  const onFilter = () => {
    f.text = search.value;
    f.kind = kind.value;
    f.state = state.value;
    f.framework = fw.value;
    f.slave = slave.value;
    st.page = 0;
    render();
  };
  search.addEventListener('input', onFilter);
  for (const s of [kind, state, fw, slave]) s.addEventListener('change', onFilter);
  render();
  return { update: render, destroy() {} };
}

// #/apps: every application with its status, instances, resources and health.

import { api } from '../api.js';
import { html, fmtNumber, fmtMB, setHTML } from '../util.js';
import { statusBadge, healthBar } from './common.js';

export function mount(root) {
  root.innerHTML = `<h1>Applications</h1>
    <div class="toolbar"><a class="button" href="#/create">Create application</a>
      <input type="search" class="filter" placeholder="Filter by id" aria-label="Filter by id"></div>
    <div class="error load-error"></div><div class="apps-table"></div>`;
  const table = root.querySelector('.apps-table');
  const filter = root.querySelector('.filter');
  let apps = [];

  const render = () => {
    const f = filter.value.trim().toLowerCase();
    const rows = apps.filter((a) => !f || a.id.toLowerCase().includes(f)).sort((a, b) => a.id.localeCompare(b.id));
    setHTML(table, html`<table class="table" id="apps"><thead><tr><th>ID</th><th>Status</th><th>Running / instances</th>
        <th>CPUs</th><th>Memory</th><th>Health</th></tr></thead><tbody>${rows.length ? rows.map((a) => html`
        <tr data-app="${a.id}"><td><a href="#/apps${a.id}">${a.id}</a></td><td>${statusBadge(a)}</td>
          <td class="instances">${a.tasksRunning ?? 0} / ${a.instances}</td><td>${fmtNumber(a.cpus)}</td>
          <td>${fmtMB(a.mem)}</td><td>${healthBar(a)}</td></tr>`)
        : html`<tr><td colspan="6" class="empty">No applications.</td></tr>`}</tbody></table>`);
  };
  filter.addEventListener('input', render);

  return {
    async refresh() {
      try {
        apps = (await api.apps()).apps || [];
        root.querySelector('.load-error').textContent = '';
      } catch (e) {
        root.querySelector('.load-error').textContent = e.message;
      }
      render();
    },
    destroy() {},
  };
}

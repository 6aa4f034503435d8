// #/roles: /master/roles (weight, quota, allocated, offered, reserved), read
// when the view opens and every 5 s while it is open.

import { getJSON } from '../api.js';
import { html, esc, fmtResources, fmtNumber, pagedTable, wireTable } from '../util.js';

const REFRESH_MS = 5000;

function quotaPart(q, field) {
  if (!q) return '-';
  const v = q[field];
  if (!v) return '-';
  if (Array.isArray(v)) {
    // Mesos Resource JSON: [{name, type, scalar: {value}}]
    return v.map((r) => `${r.name}: ${r.scalar ? fmtNumber(r.scalar.value) : JSON.stringify(r.ranges || r.set || '')}`)
      .join(', ') || '-';
  }
  return Object.keys(v).length ? fmtResources(v) : '-';
}

export function mount(root) {
  root.innerHTML = '<h1>Roles</h1><div id="roles-body"><p class="muted">Loading…</p></div>';
  const el = root.querySelector('#roles-body');
  const st = { page: 0, sortKey: 0, sortDesc: false };
  let roles = [];
  let timer = null;
  let stopped = false;
  const cols = [
    { title: 'Role', key: (r) => r.name, cell: (r) => html`${r.name}`.s },
    { title: 'Weight', key: (r) => r.weight, cell: (r) => html`${fmtNumber(r.weight)}`.s },
    { title: 'Frameworks', key: (r) => (r.frameworks || []).length, cell: (r) => html`${(r.frameworks || []).length}`.s },
    { title: 'Quota guarantee', cell: (r) => esc(quotaPart(r.quota, 'guarantee')) },
    { title: 'Quota limit', cell: (r) => esc(quotaPart(r.quota, 'limit')) },
    { title: 'Quota consumed', cell: (r) => esc(quotaPart(r.quota, 'consumed')) },
    { title: 'Allocated', key: (r) => (r.allocated || {}).cpus || 0, cell: (r) => html`${fmtResources(r.allocated)}`.s },
    { title: 'Offered', cell: (r) => html`${fmtResources(r.offered)}`.s },
    { title: 'Reserved', cell: (r) => html`${fmtResources(r.reserved)}`.s },
    { title: 'Share', key: (r) => r.share, cell: (r) => html`${typeof r.share === 'number' ? fmtNumber(r.share * 100, 1) + ' %' : '-'}`.s },
  ];
  function render() {
    el.innerHTML = pagedTable(roles, cols, { ...st, id: 'roles', empty: 'No roles.' }).s;
    wireTable(el, 'roles', st, render);
  }
  async function load() {
    try {
      const r = await getJSON('/master/roles');
      if (stopped) return;
      roles = r.roles || [];
      render();
    } catch (e) {
      if (!stopped && e.status !== 0) el.innerHTML = html`<p class="error">Cannot read /master/roles: ${e.message}</p>`.s;
    }
    if (!stopped) timer = setTimeout(load, REFRESH_MS);
  }
  load();
  return {
    update() {},
    destroy() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

// #/offers: the outstanding offers (each framework's "offers" in /master/state).

import { store, frameworkName, slaveName } from '../store.js';
import { html, fmtResources, pagedTable, wireTable, setHTML,
} from '../util.js';

export function mount(root) {
  root.innerHTML = '<h1>Offers</h1><div id="offers-body"></div>';
  const el = root.querySelector('#offers-body');
  const st = { page: 0, sortKey: 0, sortDesc: false };
  const cols = [
    { title: 'ID', key: (o) => o.id, cell: (o) => html`${o.id}`.s },
    { title: 'Framework', key: (o) => frameworkName(o.framework_id),
      cell: (o) => html`<a href="#/frameworks/${encodeURIComponent(o.framework_id)}">${frameworkName(o.framework_id)}</a>`.s },
    { title: 'Role', key: (o) => (o.allocation_info || {}).role, cell: (o) => html`${(o.allocation_info || {}).role || '*'}`.s },
    { title: 'Slave', key: (o) => slaveName(o.slave_id),
      cell: (o) => html`<a href="#/agents/${encodeURIComponent(o.slave_id)}">${slaveName(o.slave_id)}</a>`.s },
    { title: 'CPUs', key: (o) => (o.resources || {}).cpus || 0, cell: (o) => html`${(o.resources || {}).cpus ?? 0}`.s },
    { title: 'Mem', key: (o) => (o.resources || {}).mem || 0, cell: (o) => html`${(o.resources || {}).mem ?? 0} MB`.s },
    { title: 'Resources', cell: (o) => html`${fmtResources(o.resources)}`.s },
  ];
  function render() {
    const s = store.state;
    if (!s) return;
    const offers = (s.frameworks || []).flatMap((f) => f.offers || []);
    if (setHTML(el, pagedTable(offers, cols, { ...st, id: 'offers', empty: 'No outstanding offers.' }))) {
      wireTable(el, 'offers', st, render);
    }
  }
  render();
  return { update: render, destroy() {} };
}

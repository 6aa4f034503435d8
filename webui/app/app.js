// The Stoa web UI: hash routes, one view mounted at a time, the banner and
// the live connection. Plain ES modules; no build step.

import { onConnection } from './api.js';
import { store, subscribe } from './store.js';
import { start } from './live.js';
import { installActions } from './actions.js';
import { selecting } from './util.js';
import * as overview from './views/overview.js';
import * as frameworks from './views/frameworks.js';
import * as agents from './views/agents.js';
import * as tasks from './views/tasks.js';
import * as offers from './views/offers.js';
import * as roles from './views/roles.js';
import * as maintenance from './views/maintenance.js';
import * as sandbox from './views/sandbox.js';

// [pattern, nav key, mount(root, {id, query})]
const ROUTES = [
  [/^\/$/, 'overview', overview.mount],
  [/^\/frameworks$/, 'frameworks', frameworks.mountList],
  [/^\/frameworks\/([^/]+)$/, 'frameworks', frameworks.mountDetail],
  [/^\/agents$/, 'agents', agents.mountList],
  [/^\/agents\/([^/]+)$/, 'agents', agents.mountDetail],
  [/^\/agents\/([^/]+)\/browse$/, 'agents', sandbox.mount],
  [/^\/tasks$/, 'tasks', tasks.mount],
  [/^\/offers$/, 'offers', offers.mount],
  [/^\/roles$/, 'roles', roles.mount],
  [/^\/maintenance$/, 'maintenance', maintenance.mount],
];

const root = document.getElementById('view');
let current = null;
let pendingUpdate = false;

function parseHash() {
  const h = location.hash.replace(/^#/, '') || '/';
  const q = h.indexOf('?');
  return { path: q >= 0 ? h.slice(0, q) : h, query: new URLSearchParams(q >= 0 ? h.slice(q + 1) : '') };
}

function route() {
  if (current && current.destroy) current.destroy();
  current = null;
  const { path, query } = parseHash();
  for (const [re, nav, mount] of ROUTES) {
    const m = re.exec(path);
    if (!m) continue;
    let id;
    try {
      id = m[1] !== undefined ? decodeURIComponent(m[1]) : undefined;
    } catch (_) {
      id = m[1];
    }
    for (const a of document.querySelectorAll('nav a[data-nav]')) {
      a.classList.toggle('active', a.dataset.nav === nav);
    }
    root.innerHTML = '';
    current = mount(root, { id, query });
    document.title = `Stoa · ${nav}`;
    return;
  }
  root.innerHTML = '';
  const p = document.createElement('p');
  p.className = 'error';
  p.textContent = `No such page: #${path}`;
  root.appendChild(p);
}

// Re-renders the view on changes, but not while the user selects text
// (retried a moment later), so copying an id works on a live page.
function update() {
  if (!current || !current.update) return;
  if (selecting()) {
    if (!pendingUpdate) {
      pendingUpdate = true;
      setTimeout(() => {
        pendingUpdate = false;
        update();
      }, 1000);
    }
    return;
  }
  current.update(store);
}

function header() {
  const s = store.state;
  const el = document.getElementById('master-info');
  if (!s) return;
  const leader = s.leader_info ? `${s.leader_info.hostname}:${s.leader_info.port}` : s.leader || '';
  el.textContent = `${s.cluster ? s.cluster + ' · ' : ''}leader ${leader} · v${s.version}`;
  const live = document.getElementById('live');
  live.textContent = store.live === 'events' ? 'live' : store.live;
  live.className = `live ${store.live}`;
  document.body.classList.toggle('read-only', store.flags.webui_read_only === 'true');
}

onConnection(({ state, detail }) => {
  const banner = document.getElementById('banner');
  if (state === 'up') {
    banner.hidden = true;
    return;
  }
  banner.hidden = false;
  banner.className = `banner ${state}`;
  banner.textContent = state === 'down'
    ? `The master is unreachable (${detail}). Showing the last known state; retrying…`
    : detail;
});

installActions(document.body);
subscribe(() => {
  header();
  update();
});
window.addEventListener('hashchange', route);
route();
start();

// The services page: hash routes -> views, the header, the banner, live
// updates. Each view module exports mount(root, ctx) -> {refresh(), destroy()};
// every event from /v2/events re-reads the current view's data (coalesced).
//   #/apps              applications (views/apps.js)
//   #/apps/<id>         one application (views/app.js)
//   #/create            the create form and JSON editor (views/create.js)
//   #/deployments       deployments (views/deployments.js)

import { api, onConnection } from './api.js';
import { startLive } from './live.js';
import * as appsView from './views/apps.js';
import * as appView from './views/app.js';
import * as createView from './views/create.js';
import * as deploymentsView from './views/deployments.js';

const root = document.getElementById('view');
const banner = document.getElementById('banner');
const liveBadge = document.getElementById('live');
let current = null;
let currentKey = null;
export const ctx = { info: null };

function parseHash() {
  const h = decodeURIComponent(location.hash.replace(/^#\/?/, ''));
  if (h === '' || h === 'apps') return { view: appsView, key: 'apps', nav: 'apps' };
  if (h.startsWith('apps/')) return { view: appView, key: h, nav: 'apps', id: '/' + h.slice(5).replace(/^\/+/, '') };
  if (h === 'create') return { view: createView, key: 'create', nav: 'create' };
  if (h === 'deployments') return { view: deploymentsView, key: 'deployments', nav: 'deployments' };
  return { view: appsView, key: 'apps', nav: 'apps' };
}

function route() {
  const r = parseHash();
  if (r.key === currentKey) return;
  if (current) current.destroy();
  // A fresh element per view: the listeners a view adds go away with it.
  const el = document.createElement('div');
  root.replaceChildren(el);
  currentKey = r.key;
  for (const a of document.querySelectorAll('header nav a')) a.classList.toggle('active', a.dataset.nav === r.nav);
  current = r.view.mount(el, { getInfo: () => ctx.info, id: r.id, navigate });
  current.refresh();
}

export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

let pending = null;
function scheduleRefresh() {
  if (pending) return;
  pending = setTimeout(() => {
    pending = null;
    if (current) current.refresh();
  }, 150);
}

onConnection(({ up, detail }) => {
  banner.hidden = up;
  banner.textContent = up ? '' : `stoa-services is unreachable: ${detail}`;
});

async function loadInfo() {
  try {
    ctx.info = await api.info();
    const i = ctx.info;
    document.getElementById('info').textContent =
      `${i.name || 'marathon'} ${i.version || ''} · leader ${i.leader || '-'}${i.elected ? ' (this one)' : ''}`;
  } catch (_) {
    // the banner says it
  }
}

window.addEventListener('hashchange', route);
if (!location.hash) history.replaceState(null, '', '#/apps');
loadInfo().finally(route);
startLive((type) => {
  if (type === 'scheduler_registered_event' || type === 'open') loadInfo();
  scheduleRefresh();
}, (state) => {
  liveBadge.className = `live ${state}`;
  liveBadge.textContent = state === 'events' ? 'live' : state;
});

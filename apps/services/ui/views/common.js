// Pieces shared by the views: the status badge, the health bar, running an
// action with a toast.

import { html, toast } from '../util.js';
import { appStatus, appHealth } from '../model.js';

export function statusBadge(app) {
  const s = appStatus(app);
  return html`<span class="status ${s}" data-status="${s}">${s}</span>`;
}

export function healthBar(app) {
  const h = appHealth(app);
  const pct = (n) => (h.total ? `${(100 * n) / h.total}%` : '0');
  return html`<div class="health" title="${h.healthy} healthy, ${h.unhealthy} unhealthy, ${h.unknown} unknown">
      <span class="healthy" style="width:${pct(h.healthy)}"></span><span class="unhealthy" style="width:${pct(h.unhealthy)}"></span><span class="unknown" style="width:${pct(h.unknown)}"></span>
    </div><div class="health-text">${h.healthy} healthy · ${h.unhealthy} unhealthy · ${h.unknown} unknown</div>`;
}

// Runs `fn` (an API call); toasts `done` or the error. Resolves the result or null.
export async function act(fn, done) {
  try {
    const r = await fn();
    if (done) toast(done);
    return r ?? true;
  } catch (e) {
    toast(e.message, 'error');
    return null;
  }
}

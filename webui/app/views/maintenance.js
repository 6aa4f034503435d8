// #/maintenance: /master/maintenance/schedule and /master/maintenance/status
// (Mesos' shapes); an empty schedule is {}.

import { getOptionalJSON } from '../api.js';
import { html, fmtTime, fmtDuration } from '../util.js';

const REFRESH_MS = 5000;

function machine(m) {
  return [m.hostname, m.ip].filter(Boolean).join(' / ') || '-';
}

function nanos(x) {
  return x && typeof x.nanoseconds === 'number' ? x.nanoseconds / 1e9 : null;
}

export function mount(root) {
  root.innerHTML = '<h1>Maintenance</h1><div id="maintenance-body"><p class="muted">Loading…</p></div>';
  const el = root.querySelector('#maintenance-body');
  let timer = null;
  let stopped = false;
  async function load() {
    try {
      const [schedule, status] = await Promise.all([
        getOptionalJSON('/master/maintenance/schedule'),
        getOptionalJSON('/master/maintenance/status'),
      ]);
      if (stopped) return;
      if (schedule === null) {
        el.innerHTML = '<p class="muted">no data: this master has no /master/maintenance/schedule</p>';
      } else {
        const windows = schedule.windows || [];
        const draining = new Set(((status && status.draining_machines) || []).map((d) => machine(d.id || {})));
        const down = new Set(((status && status.down_machines) || []).map(machine));
        const rows = [];
        for (const w of windows) {
          const start = nanos(w.unavailability && w.unavailability.start);
          const dur = nanos(w.unavailability && w.unavailability.duration);
          for (const m of w.machine_ids || []) {
            const name = machine(m);
            const mode = down.has(name) ? 'down' : draining.has(name) ? 'draining' : 'up';
            rows.push(html`<tr><td>${m.hostname || '-'}</td><td>${m.ip || '-'}</td><td>${
              start !== null ? fmtTime(start) : '-'}</td><td>${dur !== null ? fmtDuration(dur) : 'forever'}</td><td>
              <span class="badge ${mode === 'up' ? 'ok' : mode === 'down' ? 'bad' : 'pending'}">${mode}</span></td></tr>`);
          }
        }
        el.innerHTML = rows.length
          ? html`<table class="table" id="maintenance"><thead><tr><th>Hostname</th><th>IP</th><th>Unavailable from</th>
              <th>For</th><th>Mode</th></tr></thead><tbody>${rows}</tbody></table>`.s
          : '<p class="muted" id="maintenance-empty">No maintenance is scheduled.</p>';
        if (status === null) el.insertAdjacentHTML('beforeend', '<p class="muted">(no /master/maintenance/status on this master)</p>');
      }
    } catch (e) {
      if (!stopped && e.status !== 0) el.innerHTML = html`<p class="error">Cannot read the maintenance schedule: ${e.message}</p>`.s;
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

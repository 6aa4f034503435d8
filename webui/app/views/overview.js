// #/ : the cluster at a glance, and the cluster's utilization charts.

import { store, allTasks } from '../store.js';
import { html, raw, kv, fmtNumber, fmtMB, fmtTime, fmtAgo, stateBadge } from '../util.js';
import { ChartGroup } from '../charts.js';

const KEYS = ['cpus', 'gpus', 'mem', 'disk'];

function sum(list, field) {
  const out = { cpus: 0, gpus: 0, mem: 0, disk: 0 };
  for (const x of list) {
    const r = x[field] || {};
    for (const k of KEYS) if (typeof r[k] === 'number') out[k] += r[k];
  }
  return out;
}

function fmt(k, v) {
  return k === 'mem' || k === 'disk' ? fmtMB(v) : fmtNumber(v);
}

export function mount(root) {
  root.innerHTML = `<h1>Overview</h1><div id="overview-body"></div>
    <h2>Utilization, last 15 minutes</h2><div id="cluster-charts" class="charts"></div>`;
  const body = root.querySelector('#overview-body');
  const chartsRoot = root.querySelector('#cluster-charts');
  let charts = null;

  function renderCharts() {
    if (store.utilizationMissing) {
      if (charts) charts.destroy();
      charts = null;
      chartsRoot.innerHTML = '<div class="chart-empty">no data (this master has no /master/utilization)</div>';
      return;
    }
    if (!store.cluster && !store.utilizationLoaded) {
      chartsRoot.innerHTML = '<div class="chart-empty">loading…</div>';
      return;
    }
    const samples = store.cluster ? store.cluster.cluster : [];
    if (!charts) charts = new ChartGroup(chartsRoot);
    charts.update(samples);
  }

  function render() {
    const s = store.state;
    if (!s) {
      body.innerHTML = '<p class="muted">Loading…</p>';
      return;
    }
    const slaves = s.slaves || [];
    const total = sum(slaves, 'resources');
    const used = sum(slaves, 'used_resources');
    const offered = sum(slaves, 'offered_resources');
    const counts = {};
    for (const { task } of allTasks()) counts[task.state] = (counts[task.state] || 0) + 1;
    const active = slaves.filter((a) => a.active).length;
    const leader = s.leader_info ? `${s.leader_info.hostname}:${s.leader_info.port}` : s.leader;
    body.innerHTML = html`
      <div class="grid">
        <section class="card"><h3>Cluster</h3>${kv([
          ['Cluster', s.cluster || '(unnamed)'],
          ['Leader', leader || '-'],
          ['Master id', s.id],
          ['Version', s.version],
          ['Built', `${s.build_date || ''} by ${s.build_user || '?'}`],
          ['Started', raw(html`${fmtTime(s.start_time)} <span class="muted">(${fmtAgo(s.start_time)})</span>`.s)],
          ['Elected', s.elected_time ? fmtTime(s.elected_time) : '-'],
          ['Updates', store.live === 'events' ? 'live (event stream)' : store.live === 'polling' ?
            'polling /master/state every second' : store.live],
        ])}</section>
        <section class="card"><h3>Slaves</h3>${kv([
          ['Active', active],
          ['Inactive', slaves.length - active],
          ['Unreachable', s.unreachable_slaves ?? 0],
          ['Frameworks', (s.frameworks || []).length],
          ['Completed frameworks', (s.completed_frameworks || []).length],
        ])}</section>
        <section class="card"><h3>Tasks</h3>${Object.keys(counts).length
          ? kv(Object.keys(counts).sort().map((k) => [stateBadge(k), counts[k]]))
          : raw('<p class="muted">No tasks.</p>')}</section>
      </div>
      <section class="card"><h3>Resources</h3>
        <table class="table" id="resources-table"><thead><tr><th></th>${KEYS.map((k) => html`<th>${k}</th>`)}</tr></thead>
        <tbody>${[['Total', total], ['Used', used], ['Offered', offered]].map(([n, r]) =>
          html`<tr><th>${n}</th>${KEYS.map((k) => html`<td>${fmt(k, r[k])}</td>`)}</tr>`)}
        <tr><th>Idle</th>${KEYS.map((k) => html`<td>${fmt(k, Math.max(0, total[k] - used[k] - offered[k]))}</td>`)}</tr>
        </tbody></table></section>`;
  }

  render();
  renderCharts();
  return {
    update() {
      render();
      renderCharts();
    },
    destroy() {
      if (charts) charts.destroy();
    },
  };
}

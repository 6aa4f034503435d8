// #/apps/<id>: one application: status, scale / restart / suspend / destroy,
// its configuration, tasks (state, host:ports, health, stdout/stderr through
// the master), its deployments, and its versions with rollback.

import { api } from '../api.js';
import { html, fmtNumber, fmtMB, fmtTime, kv, setHTML, confirmAction } from '../util.js';
import { taskHealth, taskAddress, masterUrl, sandboxOf, logUrl, formatConstraints, queueSummary } from '../model.js';
import { statusBadge, healthBar, act } from './common.js';

const HEALTH_BADGE = { healthy: 'ok', unhealthy: 'bad', unknown: 'muted' };

function stateBadge(state) {
  const s = String(state || '');
  const kind = s === 'TASK_RUNNING' ? 'ok' : /STAGING|STARTING|KILLING/.test(s) ? 'pending' : 'bad';
  return html`<span class="badge ${kind}">${s.replace(/^TASK_/, '')}</span>`;
}

export function mount(root, { id, getInfo, navigate }) {
  root.innerHTML = `<h1 class="app-title"></h1>
    <div class="toolbar">
      <span class="app-status"></span>
      <label>Instances <input type="number" min="0" step="1" name="scale" aria-label="Instances"></label>
      <button name="scale-apply">Scale</button>
      <button name="restart">Restart</button>
      <button name="suspend">Suspend</button>
      <button name="destroy" class="danger">Destroy</button>
    </div>
    <div class="error load-error"></div>
    <div class="grid"><div class="card summary"></div><div class="card health-card"></div></div>
    <div class="card queue" hidden></div>
    <h2>Tasks</h2><div class="tasks"></div>
    <h2>Deployments</h2><div class="deployments"></div>
    <h2>Versions</h2><div class="versions"></div>`;
  root.querySelector('.app-title').textContent = id;
  const scaleInput = root.querySelector('input[name=scale]');
  let app = null;
  let shownInstances = null;
  let destroyed = false;

  const refresh = async () => {
    try {
      app = (await api.app(id)).app;
      root.querySelector('.load-error').textContent = '';
    } catch (e) {
      root.querySelector('.load-error').textContent = e.message;
      return;
    }
    // The input follows the app's instances when they change, unless the user is typing in it.
    if (app.instances !== shownInstances && document.activeElement !== scaleInput) {
      scaleInput.value = app.instances;
      shownInstances = app.instances;
    }
    const info = getInfo() || {};
    const master = masterUrl(info);
    setHTML(root.querySelector('.app-status'), statusBadge(app));
    setHTML(root.querySelector('.summary'), kv([
      ['Command', app.cmd ?? (app.args || []).join(' ')],
      ['CPUs', fmtNumber(app.cpus)],
      ['Memory', fmtMB(app.mem)],
      ['Disk', fmtMB(app.disk)],
      ['Instances', `${app.tasksRunning ?? 0} running of ${app.instances}` +
        ((app.tasksStaged ?? 0) ? `, ${app.tasksStaged} staged` : '')],
      ['Constraints', formatConstraints(app.constraints) || '-'],
      ['Ports', (app.portDefinitions || []).map((p) => p.port).join(', ') || '-'],
      ['Version', fmtTime(app.version)],
      ['Last task failure', app.lastTaskFailure
        ? `${app.lastTaskFailure.state} ${app.lastTaskFailure.message || ''} (${fmtTime(app.lastTaskFailure.timestamp)})` : '-'],
    ]));
    setHTML(root.querySelector('.health-card'), html`<h3>Health</h3>${healthBar(app)}`);
    let queued = null;
    try {
      queued = (((await api.queue()) || {}).queue || []).find((q) => q.app && q.app.id === id) || null;
    } catch (_) {
      // no queue: nothing shown
    }
    const queueBox = root.querySelector('.queue');
    queueBox.hidden = !queued;
    setHTML(queueBox, queued ? html`<h3>Launch queue</h3><span class="queue-summary">${queueSummary(queued)}</span>
      ${queued.delay && queued.delay.overdue === false ? html` <button class="small" data-reset-delay="1">Reset delay</button>` : ''}` : '');
    const tasks = app.tasks || [];
    setHTML(root.querySelector('.tasks'), html`<table class="table" id="tasks"><thead><tr><th>Task</th><th>State</th>
        <th>Host:ports</th><th>Health</th><th>Started</th><th>Version</th><th>Logs</th><th></th></tr></thead><tbody>
      ${tasks.length ? tasks.map((t) => {
        const health = taskHealth(t);
        const sandbox = sandboxOf(t, info.frameworkId || '');
        const logs = master
          ? html`<a href="${logUrl(master, t, sandbox, 'stdout')}" target="_blank" rel="noopener">stdout</a>
                 <a href="${logUrl(master, t, sandbox, 'stderr')}" target="_blank" rel="noopener">stderr</a>`
          : html`<span class="muted">master unknown</span>`;
        return html`<tr data-task="${t.id}"><td class="mono">${t.id}</td><td>${stateBadge(t.state)}</td>
          <td class="mono">${taskAddress(t)}</td><td><span class="badge ${HEALTH_BADGE[health]}">${health}</span></td>
          <td>${fmtTime(t.startedAt || t.stagedAt)}</td><td>${fmtTime(t.version)}</td><td>${logs}</td>
          <td><button class="small danger" data-kill="${t.id}">Kill</button></td></tr>`;
      }) : html`<tr><td colspan="8" class="empty">No tasks.</td></tr>`}</tbody></table>`);
    let deployments = [];
    try {
      const mine = new Set((app.deployments || []).map((d) => d.id));
      deployments = ((await api.deployments()) || []).filter((d) => mine.has(d.id) || (d.affectedApps || []).includes(id));
    } catch (_) {
      // shown as none
    }
    setHTML(root.querySelector('.deployments'), deployments.length
      ? html`<table class="table"><thead><tr><th>ID</th><th>Actions</th><th>Step</th><th></th></tr></thead><tbody>
        ${deployments.map((d) => html`<tr><td class="mono">${d.id}</td>
          <td>${(d.currentActions || []).map((a) => `${a.action} ${a.app || ''}`).join(', ')}</td>
          <td>${d.currentStep} / ${d.totalSteps}</td>
          <td><button class="small" data-rollback-deployment="${d.id}">Roll back</button>
              <button class="small danger" data-stop-deployment="${d.id}">Stop</button></td></tr>`)}</tbody></table>`
      : html`<p class="muted">No deployment is running for this application.</p>`);
    try {
      const versions = ((await api.versions(id)) || {}).versions || [];
      setHTML(root.querySelector('.versions'), html`<table class="table" id="versions"><thead><tr><th>Version</th><th></th></tr></thead>
        <tbody>${versions.map((v) => html`<tr><td class="mono">${v}${v === app.version ? html` <span class="badge ok">current</span>` : ''}</td>
          <td>${v === app.version ? '' : html`<button class="small" data-rollback="${v}">Roll back to this version</button>`}</td></tr>`)}</tbody></table>`);
    } catch (e) {
      setHTML(root.querySelector('.versions'), html`<p class="error">${e.message}</p>`);
    }
  };

  const scaleTo = async (n) => {
    if (await act(() => api.update(id, { instances: n }), `Scaling ${id} to ${n}`)) await refresh();
  };
  root.querySelector('button[name=scale-apply]').addEventListener('click', () => {
    const n = Number(scaleInput.value);
    if (!Number.isInteger(n) || n < 0) {
      root.querySelector('.load-error').textContent = `Instances '${scaleInput.value}' is not a whole number >= 0`;
      return;
    }
    scaleTo(n);
  });
  root.querySelector('button[name=suspend]').addEventListener('click', async () => {
    if (await confirmAction(`Suspend ${id}?`, 'Scales the application to 0 instances.', 'Suspend')) {
      scaleInput.value = '0';
      scaleTo(0);
    }
  });
  root.querySelector('button[name=restart]').addEventListener('click', async () => {
    if (await confirmAction(`Restart ${id}?`, 'Replaces every task with a new one.', 'Restart')) {
      if (await act(() => api.restart(id), `Restarting ${id}`)) await refresh();
    }
  });
  root.querySelector('button[name=destroy]').addEventListener('click', async () => {
    if (await confirmAction(`Destroy ${id}?`, 'Kills every task and deletes the application with its versions.', 'Destroy')) {
      if (await act(() => api.destroy(id), `Destroying ${id}`)) navigate('#/apps');
    }
  });
  root.addEventListener('click', async (e) => {
    const b = e.target.closest('button');
    if (!b) return;
    if (b.dataset.rollback) {
      const v = b.dataset.rollback;
      if (await confirmAction(`Roll back ${id}?`, `Deploys the version of ${v} again.`, 'Roll back')) {
        if (await act(() => api.update(id, { version: v }), `Rolling ${id} back to ${v}`)) await refresh();
      }
    } else if (b.dataset.resetDelay) {
      if (await act(() => api.resetDelay(id), 'Launch delay reset')) await refresh();
    } else if (b.dataset.kill) {
      if (await confirmAction('Kill task?', `${b.dataset.kill} is killed; the app starts a replacement.`, 'Kill')) {
        if (await act(() => api.killTask(id, b.dataset.kill), 'Killing the task')) await refresh();
      }
    } else if (b.dataset.rollbackDeployment) {
      if (await act(() => api.cancelDeployment(b.dataset.rollbackDeployment, false), 'Rolling the deployment back')) await refresh();
    } else if (b.dataset.stopDeployment) {
      if (await act(() => api.cancelDeployment(b.dataset.stopDeployment, true), 'Deployment stopped')) await refresh();
    }
  });

  return {
    refresh: () => (destroyed ? null : refresh()),
    destroy() {
      destroyed = true;
    },
  };
}

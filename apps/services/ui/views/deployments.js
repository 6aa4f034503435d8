// #/deployments: every running deployment with cancel (roll back: a revert
// deployment) and stop (force: just stops it).

import { api } from '../api.js';
import { html, fmtTime, setHTML, confirmAction } from '../util.js';
import { act } from './common.js';

export function mount(root) {
  root.innerHTML = `<h1>Deployments</h1><div class="error load-error"></div><div class="deployments"></div>`;
  const box = root.querySelector('.deployments');
  const refresh = async () => {
    let list = [];
    try {
      list = (await api.deployments()) || [];
      root.querySelector('.load-error').textContent = '';
    } catch (e) {
      root.querySelector('.load-error').textContent = e.message;
    }
    setHTML(box, html`<table class="table" id="deployments"><thead><tr><th>ID</th><th>Applications</th>
        <th>Current actions</th><th>Step</th><th>Version</th><th></th></tr></thead><tbody>
      ${list.length ? list.map((d) => html`<tr data-deployment="${d.id}"><td class="mono">${d.id}</td>
        <td>${(d.affectedApps || []).map((a) => html`<a href="#/apps${a}">${a}</a> `)}</td>
        <td>${(d.currentActions || []).map((a) => `${a.action} ${a.app || ''}`).join(', ')}</td>
        <td>${d.currentStep} / ${d.totalSteps}</td><td>${fmtTime(d.version)}</td>
        <td><button class="small" data-rollback="${d.id}">Roll back</button>
            <button class="small danger" data-stop="${d.id}">Stop</button></td></tr>`)
      : html`<tr><td colspan="6" class="empty">No deployment is running.</td></tr>`}</tbody></table>`);
  };
  root.addEventListener('click', async (e) => {
    const b = e.target.closest('button');
    if (!b) return;
    if (b.dataset.rollback && await confirmAction('Roll back the deployment?',
      `${b.dataset.rollback} is cancelled and a deployment back to the previous state starts.`, 'Roll back')) {
      if (await act(() => api.cancelDeployment(b.dataset.rollback, false), 'Rolling back')) await refresh();
    } else if (b.dataset.stop && await confirmAction('Stop the deployment?',
      `${b.dataset.stop} stops where it is (no rollback).`, 'Stop')) {
      if (await act(() => api.cancelDeployment(b.dataset.stop, true), 'Deployment stopped')) await refresh();
    }
  });
  return { refresh, destroy() {} };
}

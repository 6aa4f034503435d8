// The two operator actions: kill a task (POST /master/kill) and tear down a
// framework (POST /master/teardown), each after a confirmation. Hidden when
// the master runs with --webui_read_only (/master/flags).

import { postForm } from './api.js';
import { store } from './store.js';
import { confirmAction, toast, html, raw } from './util.js';
import { refresh } from './live.js';

export function readOnly() {
  const v = store.flags && store.flags.webui_read_only;
  return v === true || v === 'true';
}

export function killButton(task) {
  if (readOnly()) return raw('');
  return html`<button class="danger small" data-action="kill" data-task="${task.id}"
    data-framework="${task.framework_id}">Kill</button>`;
}

export function teardownButton(framework) {
  // Views offer it only for frameworks the master still has (not completed ones).
  if (readOnly()) return raw('');
  return html`<button class="danger small" data-action="teardown" data-framework="${framework.id}">Tear down</button>`;
}

async function kill(taskId, frameworkId) {
  const ok = await confirmAction('Kill task',
    `Kill task '${taskId}' of framework '${frameworkId}'? The slave sends it SIGTERM, then SIGKILL.`, 'Kill task');
  if (!ok) return;
  try {
    await postForm('/master/kill', { taskID: taskId, frameworkID: frameworkId });
    toast(`Kill sent for task '${taskId}'`);
  } catch (e) {
    toast(`Cannot kill task '${taskId}': ${e.message}`, 'error');
  }
}

async function teardown(frameworkId) {
  const ok = await confirmAction('Tear down framework',
    `Tear down framework '${frameworkId}'? All of its tasks are killed and it cannot register again.`,
    'Tear down');
  if (!ok) return;
  try {
    await postForm('/master/teardown', { frameworkID: frameworkId });
    toast(`Framework '${frameworkId}' torn down`);
    refresh();
  } catch (e) {
    toast(`Cannot tear down framework '${frameworkId}': ${e.message}`, 'error');
  }
}

// One listener for the whole page: buttons carry data-action.
export function installActions(root) {
  root.addEventListener('click', (ev) => {
    const b = ev.target.closest('button[data-action]');
    if (!b) return;
    ev.preventDefault();
    if (b.dataset.action === 'kill') kill(b.dataset.task, b.dataset.framework);
    else if (b.dataset.action === 'teardown') teardown(b.dataset.framework);
  });
}

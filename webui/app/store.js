// The UI's copy of the master's state: /master/state read once (and again
// after every reconnect), then kept current by the events of
// /master/events (live.js calls applyEvent). Views read it and subscribe.

export const TERMINAL_STATES = new Set([
  'TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_LOST', 'TASK_ERROR',
  'TASK_DROPPED', 'TASK_GONE', 'TASK_GONE_BY_OPERATOR',
]);

export const store = {
  state: null,          // the last /master/state, updated in place by events
  flags: {},            // /master/flags' "flags"
  loadedAt: 0,          // Date.now() of the last full read
  live: 'connecting',   // 'events' | 'polling' | 'connecting' | 'down'
  cluster: null,        // /master/utilization: {interval_seconds, cluster: [samples]} or null (no endpoint)
  utilizationMissing: false,
  utilizationLoaded: false, // the first /master/utilization read has answered
  version: 0,           // bumped on every change
};

const subscribers = new Set();
let notifyScheduled = false;

export function subscribe(fn) {
  subscribers.add(fn);
  return () => subscribers.delete(fn);
}

// Coalesces bursts of events into one render per animation frame.
export function changed() {
  store.version++;
  if (notifyScheduled) return;
  notifyScheduled = true;
  const run = () => {
    notifyScheduled = false;
    for (const fn of [...subscribers]) {
      try {
        fn(store);
      } catch (e) {
        console.warn('render failed', e);
      }
    }
  };
  if (typeof requestAnimationFrame === 'function' && document.visibilityState === 'visible') {
    requestAnimationFrame(run);
  } else {
    setTimeout(run, 0);
  }
}

export function setState(state) {
  for (const f of state.frameworks || []) normalizeFramework(f);
  for (const f of state.completed_frameworks || []) normalizeFramework(f);
  store.state = state;
  store.loadedAt = Date.now();
  changed();
}

function normalizeFramework(f) {
  f.tasks = f.tasks || [];
  f.completed_tasks = f.completed_tasks || [];
  f.unreachable_tasks = f.unreachable_tasks || [];
  f.offers = f.offers || [];
  return f;
}

// ---- look-ups -------------------------------------------------------------

export function frameworkById(id) {
  const s = store.state;
  if (!s) return null;
  return (s.frameworks || []).find((f) => f.id === id) ||
    (s.completed_frameworks || []).find((f) => f.id === id) || null;
}

export function slaveById(id) {
  const s = store.state;
  if (!s) return null;
  return (s.slaves || []).find((a) => a.id === id) || null;
}

export function slaveName(id) {
  const a = slaveById(id);
  return a ? a.hostname : id;
}

export function frameworkName(id) {
  const f = frameworkById(id);
  return f ? f.name : id;
}

// Every task the master knows: [{task, kind: 'active'|'unreachable'|'completed'|'orphan'}].
export function allTasks() {
  const s = store.state;
  const out = [];
  if (!s) return out;
  const add = (list, kind) => {
    for (const t of list || []) out.push({ task: t, kind });
  };
  for (const f of s.frameworks || []) {
    add(f.tasks, 'active');
    add(f.unreachable_tasks, 'unreachable');
    add(f.completed_tasks, 'completed');
  }
  for (const f of s.completed_frameworks || []) {
    add(f.tasks, 'completed');
    add(f.completed_tasks, 'completed');
  }
  add(s.orphan_tasks, 'orphan');
  return out;
}

export function findTask(frameworkId, taskId) {
  const f = frameworkById(frameworkId);
  if (!f) return null;
  for (const list of [f.tasks, f.unreachable_tasks, f.completed_tasks]) {
    const t = (list || []).find((x) => x.id === taskId);
    if (t) return t;
  }
  return null;
}

// ---- resources ------------------------------------------------------------

const SCALARS = ['cpus', 'gpus', 'mem', 'disk'];

function addResources(into, r, sign) {
  if (!into || !r) return;
  for (const k of SCALARS) {
    if (typeof r[k] === 'number') {
      const v = (into[k] || 0) + sign * r[k];
      into[k] = Math.max(0, Math.round(v * 1000) / 1000);
    }
  }
}

function accountTask(task, sign) {
  const a = slaveById(task.slave_id);
  if (a) {
    a.used_resources = a.used_resources || {};
    addResources(a.used_resources, task.resources, sign);
  }
  const f = frameworkById(task.framework_id);
  if (f) {
    f.used_resources = f.used_resources || {};
    addResources(f.used_resources, task.resources, sign);
  }
}

// ---- events (contract B) --------------------------------------------------

function ensureFramework(id) {
  let f = frameworkById(id);
  if (!f) {
    f = normalizeFramework({ id, name: id, active: true, roles: [], used_resources: {}, offered_resources: {} });
    store.state.frameworks.push(f);
  }
  return f;
}

function onTaskAdded(data) {
  const t = data.task;
  if (!t || !t.id) return false;
  const f = ensureFramework(t.framework_id);
  if (f.tasks.some((x) => x.id === t.id) || f.completed_tasks.some((x) => x.id === t.id)) return false;
  t.statuses = t.statuses || [];
  if (TERMINAL_STATES.has(t.state)) {
    f.completed_tasks.push(t);
  } else {
    f.tasks.push(t);
    accountTask(t, +1);
  }
  return true;
}

// A status the state read already had (events queued while it was read) is not added twice.
function pushStatus(t, st) {
  if (!st) return;
  t.statuses = t.statuses || [];
  if (t.statuses.some((x) => x.state === st.state && x.timestamp === st.timestamp)) return;
  t.statuses.push(st);
}

function onTaskUpdated(data) {
  const f = frameworkById(data.framework_id);
  if (!f) return false;
  let list = f.tasks;
  let i = list.findIndex((x) => x.id === data.task_id);
  let fromUnreachable = false;
  if (i < 0) {
    i = f.unreachable_tasks.findIndex((x) => x.id === data.task_id);
    if (i >= 0) {
      list = f.unreachable_tasks;
      fromUnreachable = true;
    }
  }
  if (i < 0) {
    // Already completed (a duplicate) or not seen: change its state in place if we have it.
    const done = f.completed_tasks.find((x) => x.id === data.task_id);
    if (!done) return false;
    done.state = data.state;
    pushStatus(done, data.status);
    return true;
  }
  const t = list[i];
  t.state = data.state;
  pushStatus(t, data.status);
  if (TERMINAL_STATES.has(data.state)) {
    list.splice(i, 1);
    f.completed_tasks.push(t);
    if (!fromUnreachable) accountTask(t, -1);
  } else if (data.state === 'TASK_UNREACHABLE' && !fromUnreachable) {
    list.splice(i, 1);
    f.unreachable_tasks.push(t);
    accountTask(t, -1);
  } else if (fromUnreachable && data.state !== 'TASK_UNREACHABLE') {
    list.splice(i, 1);
    f.tasks.push(t);
    accountTask(t, +1);
  }
  return true;
}

function onAgent(data) {
  const a = data.agent;
  if (!a || !a.id) return false;
  const s = store.state;
  const i = s.slaves.findIndex((x) => x.id === a.id);
  if (i >= 0) s.slaves[i] = { ...s.slaves[i], ...a };
  else s.slaves.push(a);
  recountSlaves();
  return true;
}

function onAgentRemoved(data) {
  const s = store.state;
  const i = s.slaves.findIndex((x) => x.id === data.agent_id);
  if (i < 0) return false;
  s.slaves.splice(i, 1);
  recountSlaves();
  return true;
}

function recountSlaves() {
  const s = store.state;
  s.activated_slaves = s.slaves.filter((a) => a.active).length;
  s.deactivated_slaves = s.slaves.length - s.activated_slaves;
}

function onFramework(data) {
  const fw = data.framework;
  if (!fw || !fw.id) return false;
  const s = store.state;
  const i = s.frameworks.findIndex((x) => x.id === fw.id);
  if (i >= 0) {
    const old = s.frameworks[i];
    // The event carries no tasks: keep ours.
    const keep = {
      tasks: old.tasks, completed_tasks: old.completed_tasks,
      unreachable_tasks: old.unreachable_tasks, offers: old.offers,
    };
    s.frameworks[i] = Object.assign(old, fw, keep);
  } else {
    s.frameworks.push(normalizeFramework({ ...fw }));
  }
  return true;
}

function onFrameworkRemoved(data) {
  const s = store.state;
  const i = s.frameworks.findIndex((x) => x.id === data.framework_id);
  if (i < 0) return false;
  const [f] = s.frameworks.splice(i, 1);
  for (const t of f.tasks) accountTask(t, -1);
  f.completed_tasks.push(...f.tasks, ...f.unreachable_tasks);
  f.tasks = [];
  f.unreachable_tasks = [];
  f.offers = [];
  f.active = false;
  f.connected = false;
  s.completed_frameworks = s.completed_frameworks || [];
  s.completed_frameworks.push(f);
  return true;
}

const CLUSTER_SAMPLES = 180;

function onUtilization(sample) {
  if (!sample || typeof sample.timestamp !== 'number') return false;
  if (!store.cluster) store.cluster = { interval_seconds: 5, cluster: [] };
  const c = store.cluster.cluster;
  const last = c[c.length - 1];
  if (last && last.timestamp >= sample.timestamp) return false;
  // The master keeps one sample per interval bucket and updates the newest
  // one as reports come: so does the chart.
  const interval = store.cluster.interval_seconds || 5;
  if (last && Math.floor(last.timestamp / interval) === Math.floor(sample.timestamp / interval)) {
    c[c.length - 1] = sample;
    return true;
  }
  c.push(sample);
  if (c.length > CLUSTER_SAMPLES) c.splice(0, c.length - CLUSTER_SAMPLES);
  return true;
}

const handlers = {
  TASK_ADDED: onTaskAdded,
  TASK_UPDATED: onTaskUpdated,
  AGENT_ADDED: onAgent,
  AGENT_UPDATED: onAgent,
  AGENT_REMOVED: onAgentRemoved,
  FRAMEWORK_ADDED: onFramework,
  FRAMEWORK_UPDATED: onFramework,
  FRAMEWORK_REMOVED: onFrameworkRemoved,
  UTILIZATION: onUtilization,
};

export const EVENT_TYPES = Object.keys(handlers);

// Applies one event of /master/events; returns whether anything changed.
export function applyEvent(type, data) {
  if (!store.state && type !== 'UTILIZATION') return false;
  const h = handlers[type];
  if (!h) return false;
  const did = h(data);
  if (did) changed();
  return did;
}

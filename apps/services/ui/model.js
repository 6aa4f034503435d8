// The page's pure logic (no DOM): an app's status and health, the create
// form <-> app JSON, constraints text, where a 422 detail belongs, and the
// links to a task's stdout/stderr through the master. Unit-tested by
// tests/webui/services-ui.test.mjs.

// 'deploying' (a deployment touches it), 'suspended' (0 instances wanted),
// 'waiting' (fewer running than wanted, nothing deploying: no offers fit or a
// launch delay), else 'running'.
export function appStatus(app) {
  if (Array.isArray(app.deployments) && app.deployments.length > 0) return 'deploying';
  if ((app.instances ?? 0) === 0) return 'suspended';
  if ((app.tasksRunning ?? 0) < app.instances) return 'waiting';
  return 'running';
}

// Healthy / unhealthy / unknown (running without a result) task counts and
// the total the bar is drawn against.
export function appHealth(app) {
  const running = app.tasksRunning ?? 0;
  const healthy = app.tasksHealthy ?? 0;
  const unhealthy = app.tasksUnhealthy ?? 0;
  const unknown = Math.max(0, running - healthy - unhealthy);
  const total = Math.max(app.instances ?? 0, healthy + unhealthy + unknown);
  return { healthy, unhealthy, unknown, total };
}

// A task's health from its healthCheckResults: 'healthy' if every result is
// alive, 'unhealthy' if one is not, 'unknown' with none.
export function taskHealth(task) {
  const results = task.healthCheckResults || [];
  if (!results.length) return 'unknown';
  return results.every((r) => r.alive === true) ? 'healthy' : 'unhealthy';
}

// "host:p1,p2" of a task ("host" without ports).
export function taskAddress(task) {
  const ports = task.ports || [];
  return ports.length ? `${task.host}:${ports.join(',')}` : String(task.host || '');
}

// Constraints as text, one per line: `field:OPERATOR[:value]` (the value may
// hold colons). Returns {constraints} or {error} naming the line.
export function parseConstraints(text) {
  const constraints = [];
  const lines = String(text || '').split('\n');
  for (let i = 0; i < lines.length; ++i) {
    const line = lines[i].trim();
    if (!line) continue;
    const first = line.indexOf(':');
    if (first <= 0) return { error: `line ${i + 1} '${line}': expected field:OPERATOR[:value]` };
    const field = line.slice(0, first).trim();
    const rest = line.slice(first + 1);
    const second = rest.indexOf(':');
    const op = (second < 0 ? rest : rest.slice(0, second)).trim().toUpperCase();
    if (!op) return { error: `line ${i + 1} '${line}': the operator is missing` };
    constraints.push(second < 0 ? [field, op] : [field, op, rest.slice(second + 1)]);
  }
  return { constraints };
}

export function formatConstraints(constraints) {
  if (!Array.isArray(constraints)) return '';
  return constraints.map((c) => (Array.isArray(c) ? c.join(':') : '')).filter(Boolean).join('\n');
}

export const FORM_FIELDS = ['id', 'cmd', 'cpus', 'mem', 'instances', 'constraints'];

// The app JSON `def` with the form's values written in: numbers parsed
// (an unparsable number stays a string, so the server's 422 names it),
// empty fields removed. Returns {def} or {error, field}.
export function applyForm(def, form) {
  const out = { ...def };
  const text = (k) => String(form[k] ?? '').trim();
  if (text('id')) out.id = text('id');
  else delete out.id;
  if (text('cmd')) out.cmd = String(form.cmd);
  else delete out.cmd;
  for (const k of ['cpus', 'mem', 'instances']) {
    const v = text(k);
    if (v === '') delete out[k];
    else out[k] = /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
  }
  const c = parseConstraints(form.constraints);
  if (c.error) return { error: c.error, field: 'constraints' };
  if (c.constraints.length) out.constraints = c.constraints;
  else delete out.constraints;
  return { def: out };
}

// The form's values from an app JSON.
export function formFromDef(def) {
  const s = (v) => (v === undefined || v === null ? '' : String(v));
  return {
    id: s(def.id),
    cmd: s(def.cmd),
    cpus: s(def.cpus),
    mem: s(def.mem),
    instances: s(def.instances),
    constraints: formatConstraints(def.constraints),
  };
}

// The form field a 422 detail path belongs to ("/id" -> "id",
// "/constraints(0)" or "/constraints/0/1" -> "constraints"), or null (the
// JSON editor shows it).
export function fieldOfPath(path) {
  const m = /^\/?([A-Za-z]+)/.exec(String(path || ''));
  if (!m) return null;
  return FORM_FIELDS.includes(m[1]) ? m[1] : null;
}

// The details of a 422 body grouped by form field (null: not a field).
export function errorsByField(details) {
  const out = new Map();
  if (!Array.isArray(details)) return out;
  for (const d of details) {
    const field = fieldOfPath(d && d.path);
    const errors = Array.isArray(d && d.errors) ? d.errors : [String(d && d.errors)];
    const text = errors.map((e) => (field ? e : `${d.path || '/'}: ${e}`));
    out.set(field, [...(out.get(field) || []), ...text]);
  }
  return out;
}

// The master's base URL from /v2/info: marathon_config.mesos_leader_ui_url,
// else marathon_config.master when it is host:port (not zk://); '' when unknown.
export function masterUrl(info) {
  const c = (info && info.marathon_config) || {};
  let url = c.mesos_leader_ui_url || '';
  if (!url && c.master && !/^zk:\/\//.test(c.master)) {
    url = /^https?:\/\//.test(c.master) ? c.master : `http://${c.master}`;
  }
  return url.replace(/\/+$/, '');
}

// The sandbox of a task as the master's file proxy names it: the virtual
// path /frameworks/<fid>/executors/<executor id>/runs/latest every slave
// attaches (docs/sandboxes.md), read with slave_id=<the task's slave>.
// stoa-services launches command tasks, whose executor id is the task id.
// (The master sends no CORS headers, so the page cannot read the real
// directory from the master's /master/state on another origin.)
export function sandboxOf(task, frameworkId) {
  return `/frameworks/${frameworkId}/executors/${task.id}/runs/latest`;
}

// The master's /files/read URL of a task's file ('stdout' or 'stderr').
export function logUrl(master, task, sandbox, file) {
  const q = new URLSearchParams({ path: `${sandbox}/${file}`, offset: '0' });
  if (task.slaveId) q.set('slave_id', task.slaveId);
  return `${master}/files/read?${q}`;
}

// A launch queue entry (/v2/queue) as one line: how many wait, the launch
// delay, and why the last offers were declined (the largest counts first).
export function queueSummary(item) {
  if (!item) return '';
  const parts = [`${item.count ?? 0} waiting to launch`];
  const d = item.delay || {};
  if (d.overdue === false && (d.timeLeftSeconds ?? 0) > 0) parts.push(`delayed ${d.timeLeftSeconds}s`);
  const reasons = ((item.processedOffersSummary || {}).rejectSummaryLastOffers || [])
    .filter((r) => (r.declined ?? 0) > 0)
    .sort((a, b) => b.declined - a.declined)
    .map((r) => `${r.reason} ${r.declined}/${r.processed}`);
  if (reasons.length) parts.push(`offers declined: ${reasons.join(', ')}`);
  return parts.join('; ');
}

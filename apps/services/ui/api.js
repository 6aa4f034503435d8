// Every request of the page goes to stoa-services' Marathon API on this
// origin (/v2/...). Errors become ApiError: the body's "message", its
// "details" (the 422 list of {path, errors}) and the status.
//
// Reachability: a request that cannot reach the server calls the
// onConnection listeners with {up: false, detail}; the next answer with
// {up: true}.

export class ApiError extends Error {
  constructor(status, message, details, url) {
    super(message);
    this.status = status;
    this.details = details;
    this.url = url;
  }
}

const listeners = new Set();
let reachable = true;

export function onConnection(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function setReachable(up, detail = '') {
  if (up === reachable && up) return;
  reachable = up;
  for (const fn of listeners) fn({ up, detail });
}

// An app id ("/group/app") as the path after /v2/apps ("/group/app"),
// each segment percent-encoded.
export function appPath(id) {
  return '/' + String(id).split('/').filter((s) => s !== '').map(encodeURIComponent).join('/');
}

// The JSON answer of `method url` (null for an empty body, e.g. 202/204).
export async function request(method, url, body) {
  const init = { method, cache: 'no-store', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch(url, init);
  } catch (e) {
    setReachable(false, `${method} ${url}: ${e.message}`);
    throw new ApiError(0, `Cannot reach stoa-services (${e.message})`, null, url);
  }
  setReachable(true);
  const text = await r.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch (_) {
      data = null;
    }
  }
  if (!r.ok) {
    const message = data && typeof data.message === 'string' ? data.message : (text || r.statusText || 'error');
    throw new ApiError(r.status, `${r.status}: ${message}`, data ? data.details : null, url);
  }
  return data;
}

export const api = {
  info: () => request('GET', '/v2/info'),
  // Counts and deployments are always added (marathon.md 1.1).
  apps: () => request('GET', '/v2/apps'),
  // Marathon always embeds tasks, counts, deployments and lastTaskFailure here.
  app: (id) => request('GET', `/v2/apps${appPath(id)}`),
  versions: (id) => request('GET', `/v2/apps${appPath(id)}/versions`),
  version: (id, ts) => request('GET', `/v2/apps${appPath(id)}/versions/${encodeURIComponent(ts)}`),
  create: (def) => request('POST', '/v2/apps', def),
  update: (id, patch, force = false) => request('PUT', `/v2/apps${appPath(id)}${force ? '?force=true' : ''}`, patch),
  restart: (id) => request('POST', `/v2/apps${appPath(id)}/restart`),
  destroy: (id) => request('DELETE', `/v2/apps${appPath(id)}`),
  killTask: (id, taskId) => request('DELETE', `/v2/apps${appPath(id)}/tasks/${encodeURIComponent(taskId)}`),
  deployments: () => request('GET', '/v2/deployments'),
  cancelDeployment: (id, force) => request('DELETE', `/v2/deployments/${encodeURIComponent(id)}${force ? '?force=true' : ''}`),
  queue: () => request('GET', '/v2/queue'),
  resetDelay: (id) => request('DELETE', `/v2/queue${appPath(id)}/delay`),
};

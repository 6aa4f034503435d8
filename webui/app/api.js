// Every request the UI makes goes through here: one master, its own origin.
//
// Reachability: a request that cannot reach the master raises the "master
// unreachable" banner (connection state 'down'); the next answer clears it.
//
// Leader changes: a master that does not lead answers 307 to the leader. The
// master sends no CORS headers, so the page cannot fetch another master's API
// from this origin; instead it moves itself: it navigates to
// `/master/redirect#<view>`, which the master answers with 307 to the leader's
// `/`, the browser keeps the fragment, and the app starts again there.

export class HttpError extends Error {
  constructor(status, message, url) {
    super(message);
    this.status = status;
    this.url = url;
  }
}

const listeners = new Set();
let connection = { state: 'up', detail: '' };

// fn({state: 'up'|'down'|'moving'|'no-leader', detail}) on every change.
export function onConnection(fn) {
  listeners.add(fn);
  fn(connection);
  return () => listeners.delete(fn);
}

function setConnection(state, detail = '') {
  if (connection.state === state && connection.detail === detail) return;
  connection = { state, detail };
  for (const fn of listeners) fn(connection);
}

let following = null;
let followTimer = null;
let movedAt = 0;

// How long one ask of /master/redirect may take, how soon a failed ask is
// repeated, and how long the page waits for the move it asked for before it
// asks again (a navigation can be cancelled, or its answer lost).
const FOLLOW_ASK_MS = 5000;
const FOLLOW_RETRY_MS = 1000;
const MOVE_WAIT_MS = 10000;

// Moves the page to the leading master (see the top of this file). Asks
// /master/redirect first without following it: a 503 means no leader is
// elected yet, and the banner says so instead of showing an error page.
// Concurrent callers share one attempt. An attempt that cannot reach the
// master, finds no leader, or whose move does not happen is repeated until
// the page has moved: the caller (a request that got 307) does not retry.
export function followLeader() {
  if (following) return following;
  if (connection.state === 'moving' && Date.now() - movedAt < MOVE_WAIT_MS) return Promise.resolve();
  following = attemptFollow().finally(() => {
    following = null;
  });
  return following;
}

function followAgain(ms) {
  clearTimeout(followTimer);
  followTimer = setTimeout(followLeader, ms);
}

async function attemptFollow() {
  clearTimeout(followTimer);
  let r;
  try {
    r = await fetch('/master/redirect', {
      redirect: 'manual', cache: 'no-store', signal: AbortSignal.timeout(FOLLOW_ASK_MS),
    });
  } catch (e) {
    setConnection('down', `${location.origin}: ${e.message}`);
    followAgain(FOLLOW_RETRY_MS);
    return;
  }
  if (r.type === 'opaqueredirect' || (r.status >= 300 && r.status < 400)) {
    setConnection('moving', 'This master does not lead; moving to the leading master…');
    movedAt = Date.now();
    location.assign('/master/redirect' + location.hash);
    followAgain(MOVE_WAIT_MS);
    return;
  }
  if (r.status === 503) {
    setConnection('no-leader', 'No leader elected; retrying…');
  }
  if (r.status >= 500) {
    // This master cannot say where the leader is yet.
    followAgain(FOLLOW_RETRY_MS);
  }
}

async function errorMessage(r) {
  const text = await r.text();
  try {
    const j = JSON.parse(text);
    if (j && typeof j.message === 'string') return j.message;
  } catch (_) {
    // not JSON: use the text as it is
  }
  return text.trim() || `HTTP ${r.status}`;
}

// Sends one request to the master. Returns the Response of a 2xx answer;
// throws HttpError for 4xx/5xx (status 0 when the master was unreachable).
export async function request(path, options = {}) {
  let r;
  try {
    r = await fetch(path, { redirect: 'manual', cache: 'no-store', ...options });
  } catch (e) {
    setConnection('down', `${location.origin}${path}: ${e.message}`);
    throw new HttpError(0, `Cannot reach the master at ${location.origin}: ${e.message}`, path);
  }
  if (r.type === 'opaqueredirect' || r.status === 307) {
    followLeader();
    throw new HttpError(307, 'This master does not lead', path);
  }
  if (connection.state !== 'up') setConnection('up');
  if (!r.ok) {
    if (r.status === 503) {
      const message = await errorMessage(r);
      if (/leader/i.test(message)) setConnection('no-leader', message);
      throw new HttpError(503, message, path);
    }
    throw new HttpError(r.status, await errorMessage(r), path);
  }
  return r;
}

export async function getJSON(path) {
  const r = await request(path);
  return r.json();
}

// Like getJSON, but a 404 (an endpoint this master does not have) is null.
export async function getOptionalJSON(path) {
  try {
    return await getJSON(path);
  } catch (e) {
    if (e instanceof HttpError && e.status === 404) return null;
    throw e;
  }
}

export async function postForm(path, fields) {
  const body = new URLSearchParams(fields).toString();
  const r = await request(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body,
  });
  const text = await r.text();
  try {
    return text ? JSON.parse(text) : {};
  } catch (_) {
    return { text };
  }
}

// Marks the master reachable again (the event stream opened).
export function markUp() {
  if (connection.state === 'down') setConnection('up');
}

export function markDown(detail) {
  setConnection('down', detail);
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

// Keeps the store current: /master/state once, then the master's event
// stream (/master/events, Server-Sent Events). On an error the stream is
// closed, /master/state read again (events may have been missed) and the
// stream reopened, backing off up to 10 s while the master is unreachable.
// A master without /master/events (404) is polled instead: /master/state
// every POLL_MS (a fallback for masters from before the event stream).

import { getJSON, getOptionalJSON, markDown, markUp, followLeader, onConnection, HttpError } from './api.js';
import { store, setState, applyEvent, changed, EVENT_TYPES } from './store.js';

const POLL_MS = 1000;
const UTILIZATION_POLL_MS = 5000;
const MAX_BACKOFF_MS = 10000;
const FLAGS_RETRY_MS = 1000;

let source = null;
let backoff = 500;
let retryTimer = null;
let pollTimer = null;
let utilTimer = null;
let flagsTimer = null;
let stateLoaded = false;
let pending = [];        // events received before the state they apply to
let reconnecting = false; // the stream broke and is being reopened
let lastUtilizationEvent = 0;

function setLive(mode) {
  if (store.live !== mode) {
    store.live = mode;
    changed();
  }
}

// Reads the whole state. `current` says whether the read is still wanted
// when its answer comes: a stream that broke meanwhile has started another
// reconnection, and a late answer must not mark that one's state loaded.
// Returns whether the state was applied.
async function loadState(current = () => true) {
  const state = await getJSON('/master/state');
  if (!current()) return false;
  setState(state);
  stateLoaded = true;
  const queued = pending;
  pending = [];
  for (const [type, data] of queued) applyEvent(type, data);
  return true;
}

// Reads the master's flags (--webui_read_only); a failed read is retried
// every FLAGS_RETRY_MS until one succeeds, so a master that was still
// starting cannot leave the page with another master's flags.
// Only the newest read is applied (an older one may answer last).
let flagsReads = 0;
export async function loadFlags() {
  clearTimeout(flagsTimer);
  const read = ++flagsReads;
  try {
    const f = await getJSON('/master/flags');
    if (read !== flagsReads) return;
    store.flags = (f && f.flags) || {};
    changed();
  } catch (e) {
    if (read !== flagsReads) return;
    console.warn('cannot read /master/flags:', e.message);
    flagsTimer = setTimeout(loadFlags, FLAGS_RETRY_MS);
  }
}

export async function loadUtilization() {
  try {
    const u = await getOptionalJSON('/master/utilization');
    store.utilizationMissing = u === null;
    store.utilizationLoaded = true;
    if (u) store.cluster = { interval_seconds: u.interval_seconds, cluster: u.cluster || [] };
    changed();
  } catch (e) {
    if (!(e instanceof HttpError)) console.warn('cannot read /master/utilization:', e.message);
  }
}

function onFrame(type, ev) {
  let data;
  try {
    data = JSON.parse(ev.data);
  } catch (e) {
    console.warn(`event ${type}: unparsable data`, ev.data);
    return;
  }
  if (type === 'SUBSCRIBED') {
    store.subscribed = data;
    return;
  }
  if (!stateLoaded && type !== 'UTILIZATION') {
    pending.push([type, data]);
    return;
  }
  if (type === 'UTILIZATION') lastUtilizationEvent = Date.now();
  applyEvent(type, data);
}

// Whether /master/events exists: reads only the status, then aborts.
async function eventsStatus() {
  const ctl = new AbortController();
  try {
    const r = await fetch('/master/events', {
      signal: ctl.signal, redirect: 'manual', cache: 'no-store',
    });
    ctl.abort();
    return r.type === 'opaqueredirect' ? 307 : r.status;
  } catch (e) {
    return 0;
  }
}

function openStream() {
  closeStream();
  // Every type (the UI applies all it knows; no ?types= to get wrong).
  const es = new EventSource('/master/events');
  source = es;
  let opened = false;
  // Whether this stream is still the page's: once it broke, another
  // reconnection owns `reconnecting` and `stateLoaded`.
  const current = () => source === es;
  es.onopen = async () => {
    opened = true;
    backoff = 500;
    markUp();
    setLive('events');
    if (!stateLoaded) {
      try {
        // A master that came back may run with other flags (--webui_read_only).
        if (reconnecting) await loadFlags();
        if (!(await loadState(current))) return;
        reconnecting = false;
        await loadUtilization();
      } catch (e) {
        if (current()) restart();
      }
    }
  };
  for (const type of ['SUBSCRIBED', ...EVENT_TYPES]) {
    es.addEventListener(type, (ev) => onFrame(type, ev));
  }
  es.onerror = async () => {
    if (source !== es) return;
    closeStream();
    if (!opened) {
      const status = await eventsStatus();
      if (status === 404) {
        startPolling();
        return;
      }
      if (status === 307) {
        // This master does not lead (EventSource cannot follow the redirect
        // to another origin): move the page to the leader.
        followLeader();
        return;
      }
      if (status === 0) markDown(`Cannot reach the master at ${location.origin}`);
    } else {
      markDown(`The event stream from ${location.origin} broke; reconnecting…`);
    }
    restart();
  };
}

function closeStream() {
  if (source) {
    source.onerror = null;
    source.close();
    source = null;
  }
}

// Another request reached the master while the stream waits out its backoff
// (the utilization poll, an action): the master is back, so the stream is
// reopened now instead of up to MAX_BACKOFF_MS later.
function reconnectNowIfBack({ state }) {
  if (state !== 'up' || !reconnecting || source || retryTimer === null) return;
  clearTimeout(retryTimer);
  retryTimer = null;
  backoff = 500;
  openStream();
}

// After an error: read the whole state again, then reopen the stream.
function restart() {
  reconnecting = true;
  setLive('connecting');
  stateLoaded = false;
  pending = [];
  clearTimeout(retryTimer);
  const wait = backoff;
  backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
  // The stream opens first and the state is read once it is open, so no
  // event falls between the two (events that come before the state are queued).
  retryTimer = setTimeout(() => {
    retryTimer = null;
    openStream();
  }, wait);
}

function startPolling() {
  setLive('polling');
  clearTimeout(pollTimer);
  const tick = async () => {
    try {
      if (reconnecting) await loadFlags();
      await loadState();
      reconnecting = false;
      setLive('polling');
      pollTimer = setTimeout(tick, POLL_MS);
    } catch (e) {
      setLive('down');
      reconnecting = true;
      pollTimer = setTimeout(tick, Math.min(backoff *= 2, MAX_BACKOFF_MS));
      return;
    }
    backoff = 500;
  };
  pollTimer = setTimeout(tick, POLL_MS);
}

// The charts' samples come as UTILIZATION events; without them (polling, or
// a master that publishes none) /master/utilization is read every 5 s.
function watchUtilization() {
  clearInterval(utilTimer);
  utilTimer = setInterval(() => {
    if (store.utilizationMissing) return;
    if (store.live === 'events' && Date.now() - lastUtilizationEvent < 3 * UTILIZATION_POLL_MS) return;
    loadUtilization();
  }, UTILIZATION_POLL_MS);
}

export async function start() {
  loadFlags();
  try {
    await loadState();
  } catch (e) {
    if (e instanceof HttpError && e.status === 307) {
      // Not the leader: the page moves to it (api.js); nothing to open here.
      return;
    }
    console.warn('cannot read /master/state:', e.message);
  }
  await loadUtilization();
  // Read again once the stream is open (see restart()).
  stateLoaded = false;
  openStream();
  watchUtilization();
  onConnection(reconnectNowIfBack);
}

// Re-reads the state now (after an action, so the view does not wait for an
// event). Not while reconnecting: the reopened stream reads it (with the
// flags), and a state read here would make it skip that.
export async function refresh() {
  if (!stateLoaded) return;
  try {
    await loadState();
  } catch (e) {
    console.warn('cannot read /master/state:', e.message);
  }
}

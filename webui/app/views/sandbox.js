// #/agents/<id>/browse?path=P: a sandbox browser through the master's
// /files proxy (slave_id=<id>), so it works when slaves are not reachable
// from the browser. A directory is listed; a file is tailed: the last page
// is read, new bytes are appended every second while the view is scrolled
// to the bottom, scrolling to the top reads the page before, and at most
// MAX_CHARS characters stay in the DOM (trimmed at the far end).

import { getJSON, query } from '../api.js';
import { html, raw, fmtBytes, fmtTime } from '../util.js';
import { slaveName } from '../store.js';

const PAGE_BYTES = 16 * 1024;     // one read when paging back or starting
const READ_BYTES = 64 * 1024;     // the master's /files/read cap per read
const MAX_CHARS = 50000;          // bounded DOM
const FOLLOW_MS = 1000;

const encoder = new TextEncoder();
const byteLength = (s) => encoder.encode(s).length;

function browseHref(slaveId, path) {
  return `#/agents/${encodeURIComponent(slaveId)}/browse?path=${encodeURIComponent(path)}`;
}

function crumbs(slaveId, path) {
  const parts = path.split('/').filter(Boolean);
  let acc = '';
  const out = parts.map((p, i) => {
    acc += `/${p}`;
    return i === parts.length - 1 ? html`<span>${p}</span>`.s : html`<a href="${browseHref(slaveId, acc)}">${p}</a>`.s;
  });
  return raw(out.map((x) => `<span class="sep">/</span>${x}`).join(''));
}

export function mount(root, params) {
  const slaveId = params.id;
  const path = params.query.get('path') || '';
  root.innerHTML = html`<h1>Sandbox on ${slaveName(slaveId)}</h1>
    <div class="crumbs">${path ? crumbs(slaveId, path) : ''}</div><div id="sandbox-body"><p class="muted">Loading…</p></div>`.s;
  const el = root.querySelector('#sandbox-body');
  let tail = null;
  let stopped = false;

  async function load() {
    if (!path.startsWith('/')) {
      el.innerHTML = html`<p class="error">Give an absolute path: #/agents/&lt;id&gt;/browse?path=/… (got '${path}')</p>`.s;
      return;
    }
    let entries;
    try {
      entries = await getJSON(`/files/browse${query({ slave_id: slaveId, path })}`);
    } catch (e) {
      if (!stopped) el.innerHTML = html`<p class="error" id="sandbox-error">Cannot browse '${path}': ${e.message}</p>`.s;
      return;
    }
    if (stopped) return;
    const self = entries.length === 1 && entries[0].path === path && !String(entries[0].mode).startsWith('d');
    if (self) {
      tail = new Tail(el, slaveId, path, entries[0]);
      tail.start();
      return;
    }
    const dl = (p) => `/files/download${query({ slave_id: slaveId, path: p })}`;
    const names = new Set(entries.map((e) => e.path.split('/').pop()));
    const quick = ['stdout', 'stderr'].filter((n) => names.has(n));
    el.innerHTML = html`
      ${quick.length ? html`<p class="quick">Tail: ${quick.map((n) =>
        html`<a class="button" id="open-${n}" href="${browseHref(slaveId, `${path.replace(/\/$/, '')}/${n}`)}">${n}</a> `)}</p>` : ''}
      <table class="table" id="sandbox-files"><thead><tr><th>Name</th><th>Size</th><th>Modified</th><th>Mode</th><th></th></tr></thead>
      <tbody>${entries.length ? entries.map((e) => {
        const name = e.path.split('/').pop();
        const dir = String(e.mode).startsWith('d');
        return html`<tr><td><a href="${browseHref(slaveId, e.path)}">${name}${dir ? '/' : ''}</a></td><td>${
          dir ? '' : fmtBytes(e.size)}</td><td>${fmtTime(e.mtime)}</td><td class="mono">${e.mode}</td><td>${
          dir ? '' : html`<a href="${dl(e.path)}" download>Download</a>`}</td></tr>`;
      }) : html`<tr><td colspan="5" class="empty">Empty directory.</td></tr>`}</tbody></table>`.s;
  }

  load();
  return {
    update() {},
    destroy() {
      stopped = true;
      if (tail) tail.stop();
    },
  };
}

class Tail {
  constructor(el, slaveId, path, entry) {
    this.el = el;
    this.slaveId = slaveId;
    this.path = path;
    this.entry = entry;
    this.start_ = 0;     // byte offset of the first byte shown
    this.end = 0;        // byte offset after the last byte shown
    this.timer = null;
    this.stopped = false;
    this.busy = false;
    this.wantBack = false;
  }

  read(offset, length) {
    return getJSON(`/files/read${query({ slave_id: this.slaveId, path: this.path, offset, length })}`);
  }

  async start() {
    const name = this.path.split('/').pop();
    const dl = `/files/download${query({ slave_id: this.slaveId, path: this.path })}`;
    const dir = this.path.slice(0, this.path.lastIndexOf('/')) || '/';
    const other = { stdout: 'stderr', stderr: 'stdout' }[name];
    this.el.innerHTML = html`<div class="tail-bar"><strong>${name}</strong>
      <span id="tail-status" class="muted">following</span>
      ${other ? html`<a id="tail-other" href="${browseHref(this.slaveId, `${dir}/${other}`)}">${other}</a>` : ''}
      <a href="${browseHref(this.slaveId, dir)}">Directory</a>
      <a href="${dl}" download>Download</a></div>
      <pre id="tail" class="tail" tabindex="0"></pre>`.s;
    this.pre = this.el.querySelector('#tail');
    this.status = this.el.querySelector('#tail-status');
    this.text = document.createTextNode('');
    this.pre.appendChild(this.text);
    this.pre.addEventListener('scroll', () => this.onScroll());
    this.busy = true;
    try {
      const end = await this.read(-1);
      const size = end.offset;
      this.start_ = Math.max(0, size - PAGE_BYTES);
      this.end = this.start_;
      await this.readForward();
      this.mark();
      this.pre.scrollTop = this.pre.scrollHeight;
    } catch (e) {
      this.busy = false;
      this.fail(e);
      return;
    }
    this.idle();
    this.schedule();
  }

  fail(e) {
    if (this.stopped) return;
    this.status.textContent = `cannot read: ${e.message}`;
    this.status.className = 'error';
  }

  atBottom() {
    return this.pre.scrollHeight - this.pre.scrollTop - this.pre.clientHeight < 8;
  }

  schedule() {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.tick(), FOLLOW_MS);
  }

  async tick() {
    if (this.stopped) return;
    if (this.atBottom() && !this.busy) {
      this.busy = true;
      try {
        await this.readForward();
        this.status.textContent = 'following';
        this.status.className = 'muted';
      } catch (e) {
        this.fail(e);
      }
      this.idle();
    } else if (!this.atBottom()) {
      this.status.textContent = 'paused (scroll to the bottom to follow)';
    }
    this.schedule();
  }

  // Reads from `end` to the end of the file, appending.
  async readForward() {
    for (let i = 0; i < 16; i++) {
      const r = await this.read(this.end, READ_BYTES);
      if (this.stopped) return;
      if (r.offset < this.end) {
        // The file shrank (truncated or rotated): start again from its start.
        this.text.data = '';
        this.start_ = this.end = 0;
        continue;
      }
      if (!r.data) return;
      const follow = this.atBottom();
      this.text.appendData(r.data);
      this.end = r.offset + byteLength(r.data);
      this.trimTop();
      this.mark();
      if (follow) this.pre.scrollTop = this.pre.scrollHeight;
      if (byteLength(r.data) < READ_BYTES) return;
    }
  }

  // The byte range shown, on the element (for tests and for the curious).
  mark() {
    this.pre.dataset.start = String(this.start_);
    this.pre.dataset.end = String(this.end);
  }

  trimTop() {
    const over = this.text.length - MAX_CHARS;
    if (over <= 0) return;
    const cut = this.text.data.indexOf('\n', over);
    const n = cut >= 0 && cut - over < 1000 ? cut + 1 : over;
    this.start_ += byteLength(this.text.data.slice(0, n));
    this.text.deleteData(0, n);
  }

  trimBottom() {
    const over = this.text.length - MAX_CHARS;
    if (over <= 0) return;
    const keep = this.text.length - over;
    this.end -= byteLength(this.text.data.slice(keep));
    this.text.deleteData(keep, this.text.length - keep);
  }

  async onScroll() {
    if (this.pre.scrollTop > 0 || this.start_ === 0) return;
    if (this.busy) {
      this.wantBack = true;   // read back once the read in flight is done
      return;
    }
    this.wantBack = false;
    this.busy = true;
    try {
      const from = Math.max(0, this.start_ - PAGE_BYTES);
      const r = await this.read(from, this.start_ - from);
      if (!this.stopped && r.data) {
        const before = this.pre.scrollHeight;
        this.text.insertData(0, r.data);
        this.start_ = from;
        // Keep the line the user was reading where it was (trimming the
        // bottom afterwards does not move it).
        this.pre.scrollTop = this.pre.scrollHeight - before;
        this.trimBottom();
        this.mark();
        this.status.textContent = 'paused (scroll to the bottom to follow)';
      }
    } catch (e) {
      this.fail(e);
    }
    this.idle();
  }

  // The read in flight is done: run a page-back that waited for it.
  idle() {
    this.busy = false;
    if (this.wantBack && !this.stopped) this.onScroll();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}

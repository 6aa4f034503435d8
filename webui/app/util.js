// Small helpers shared by the views: escaping, formatting, tables, dialogs.

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

// Every value that comes from the master goes through esc() before it is put into HTML.
export function esc(v) {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

// Tagged template: interpolations are escaped unless wrapped in raw().
export function html(strings, ...values) {
  let out = strings[0];
  values.forEach((v, i) => {
    if (Array.isArray(v)) out += v.map((x) => (x instanceof Raw ? x.s : esc(x))).join('');
    else out += v instanceof Raw ? v.s : esc(v);
    out += strings[i + 1];
  });
  return new Raw(out);
}

class Raw {
  constructor(s) {
    this.s = s;
  }
  toString() {
    return this.s;
  }
}

export function raw(s) {
  return new Raw(s);
}

export function fmtNumber(n, digits = 2) {
  if (typeof n !== 'number' || !isFinite(n)) return '-';
  return Number.isInteger(n) ? String(n) : n.toFixed(digits).replace(/\.?0+$/, '');
}

// Megabytes (as the master counts mem and disk) for humans.
export function fmtMB(mb) {
  if (typeof mb !== 'number' || !isFinite(mb)) return '-';
  if (mb >= 1024 * 1024) return `${fmtNumber(mb / 1024 / 1024)} TB`;
  if (mb >= 1024) return `${fmtNumber(mb / 1024)} GB`;
  return `${fmtNumber(mb)} MB`;
}

export function fmtBytes(b) {
  if (typeof b !== 'number' || !isFinite(b)) return '-';
  if (b < 1024) return `${b} B`;
  return b < 1024 * 1024 ? `${fmtNumber(b / 1024, 1)} KB` : fmtMB(b / 1024 / 1024);
}

// Unix seconds → local date and time.
export function fmtTime(secs) {
  if (typeof secs !== 'number' || !secs) return '-';
  const d = new Date(secs * 1000);
  return d.toLocaleString(undefined, { hour12: false });
}

export function fmtAgo(secs) {
  if (typeof secs !== 'number' || !secs) return '-';
  const s = Math.max(0, Date.now() / 1000 - secs);
  if (s < 60) return `${Math.floor(s)}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m ago`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h ago`;
}

export function fmtDuration(secs) {
  if (typeof secs !== 'number' || !isFinite(secs)) return '-';
  if (secs < 60) return `${fmtNumber(secs, 1)}s`;
  if (secs < 3600) return `${Math.floor(secs / 60)}m ${Math.floor(secs % 60)}s`;
  if (secs < 86400) return `${Math.floor(secs / 3600)}h ${Math.floor((secs % 3600) / 60)}m`;
  return `${Math.floor(secs / 86400)}d ${Math.floor((secs % 86400) / 3600)}h`;
}

export function fmtResources(r) {
  if (!r) return '-';
  const parts = [];
  if (r.cpus) parts.push(`${fmtNumber(r.cpus)} cpus`);
  if (r.gpus) parts.push(`${fmtNumber(r.gpus)} gpus`);
  if (r.mem) parts.push(fmtMB(r.mem));
  if (r.disk) parts.push(`${fmtMB(r.disk)} disk`);
  if (r.ports) parts.push(`ports ${r.ports}`);
  return parts.length ? parts.join(', ') : '-';
}

export function stateClass(state) {
  if (!state) return '';
  if (state === 'TASK_RUNNING' || state === 'TASK_FINISHED') return 'ok';
  if (state === 'TASK_STAGING' || state === 'TASK_STARTING' || state === 'TASK_KILLING') return 'pending';
  if (state === 'TASK_KILLED') return 'muted';
  return 'bad';
}

export function stateBadge(state) {
  return html`<span class="badge ${stateClass(state)}">${String(state || '').replace(/^TASK_/, '')}</span>`;
}

// The last status with a reason or message: why a task ended.
export function lastStatus(task) {
  const st = task.statuses || [];
  return st.length ? st[st.length - 1] : null;
}

export function taskStartTime(task) {
  const st = task.statuses || [];
  return st.length ? st[0].timestamp : 0;
}

export function taskEndTime(task) {
  const st = lastStatus(task);
  return st ? st.timestamp : 0;
}

export function sandboxPath(task) {
  const eid = task.executor_id || task.id;
  return `/frameworks/${task.framework_id}/executors/${eid}/runs/latest`;
}

export function sandboxHref(task, file) {
  const path = sandboxPath(task) + (file ? `/${file}` : '');
  return `#/agents/${encodeURIComponent(task.slave_id)}/browse?path=${encodeURIComponent(path)}`;
}

// ---- confirmation dialog ---------------------------------------------------

// Resolves true when the user confirms. Uses the page's <dialog id="confirm">.
export function confirmAction(title, text, okLabel) {
  const dlg = document.getElementById('confirm');
  dlg.querySelector('.confirm-title').textContent = title;
  dlg.querySelector('.confirm-text').textContent = text;
  const ok = dlg.querySelector('.confirm-ok');
  ok.textContent = okLabel;
  return new Promise((resolve) => {
    const done = (v) => {
      dlg.removeEventListener('close', onClose);
      resolve(v);
    };
    const onClose = () => done(dlg.returnValue === 'ok');
    dlg.addEventListener('close', onClose);
    dlg.returnValue = '';
    dlg.showModal();
  });
}

// A transient message at the bottom of the page.
export function toast(text, kind = 'info') {
  const box = document.getElementById('toasts');
  const el = document.createElement('div');
  el.className = `toast ${kind}`;
  el.textContent = text;
  box.appendChild(el);
  setTimeout(() => el.remove(), kind === 'error' ? 10000 : 5000);
}

// ---- paged, filtered, sorted tables ---------------------------------------

// Renders rows[from..from+pageSize) of `rows` into a table body and the
// pager below it. columns: [{title, key(row) for sorting, cell(row) → html}].
// Only one page of rows is ever in the DOM, so thousands of tasks stay fast.
export function pagedTable(rows, columns, opts) {
  const { page = 0, pageSize = 50, sortKey = 0, sortDesc = false, id, empty = 'Nothing here.' } = opts;
  const col = columns[sortKey] || columns[0];
  const sorted = col.key ? [...rows].sort((a, b) => cmp(col.key(a), col.key(b)) * (sortDesc ? -1 : 1)) : rows;
  const pages = Math.max(1, Math.ceil(sorted.length / pageSize));
  const p = Math.min(Math.max(0, page), pages - 1);
  const slice = sorted.slice(p * pageSize, (p + 1) * pageSize);
  const head = columns.map((c, i) => {
    const arrow = i === sortKey ? (sortDesc ? ' ▼' : ' ▲') : '';
    return c.key ? html`<th data-sort="${i}" class="sortable">${c.title}${arrow}</th>` : html`<th>${c.title}</th>`;
  });
  const body = slice.length
    ? slice.map((r) => raw(`<tr>${columns.map((c) => `<td>${c.cell(r)}</td>`).join('')}</tr>`))
    : [html`<tr><td colspan="${columns.length}" class="empty">${empty}</td></tr>`];
  const pager = sorted.length > pageSize
    ? html`<div class="pager" data-table="${id}">
        <button data-page="${p - 1}" ${raw(p === 0 ? 'disabled' : '')}>‹ Previous</button>
        <span>Page ${p + 1} of ${pages} (${sorted.length} rows)</span>
        <button data-page="${p + 1}" ${raw(p >= pages - 1 ? 'disabled' : '')}>Next ›</button></div>`
    : html`<div class="pager-count">${sorted.length} ${sorted.length === 1 ? 'row' : 'rows'}</div>`;
  return html`<table class="table" id="${id}"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>${pager}`;
}

function cmp(a, b) {
  if (a === b) return 0;
  if (a === undefined || a === null) return 1;
  if (b === undefined || b === null) return -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b));
}

// Wires the sort headers and pager buttons of a pagedTable inside `root`;
// `state` is the view's {page, sortKey, sortDesc}, `rerender()` draws again.
export function wireTable(root, id, state, rerender) {
  const table = root.querySelector(`#${CSS.escape(id)}`);
  if (!table) return;
  for (const th of table.querySelectorAll('th[data-sort]')) {
    th.addEventListener('click', () => {
      const k = Number(th.dataset.sort);
      if (state.sortKey === k) state.sortDesc = !state.sortDesc;
      else {
        state.sortKey = k;
        state.sortDesc = false;
      }
      rerender();
    });
  }
  const pager = root.querySelector(`.pager[data-table="${CSS.escape(id)}"]`);
  if (pager) {
    for (const b of pager.querySelectorAll('button[data-page]')) {
      b.addEventListener('click', () => {
        state.page = Number(b.dataset.page);
        rerender();
      });
    }
  }
}

export function kv(pairs) {
  return html`<table class="kv">${pairs.map(([k, v]) => html`<tr><th>${k}</th><td>${v}</td></tr>`)}</table>`;
}

// Whether the user is selecting text in the page (a re-render would drop the selection).
export function selecting() {
  const sel = window.getSelection && window.getSelection();
  return !!sel && sel.type === 'Range' && String(sel).length > 0;
}

// Resources, or a map role → resources (Mesos' reserved_resources_allocated).
export function fmtResourcesByRole(r) {
  if (!r) return '-';
  const roles = Object.keys(r).filter((k) => r[k] && typeof r[k] === 'object' && !Array.isArray(r[k]));
  if (!roles.length) return fmtResources(r);
  return roles.sort().map((k) => `${k}: ${fmtResources(r[k])}`).join('; ');
}

// Sets el's HTML only when it changed, so an unchanged table is not rebuilt
// under the user's pointer (a click between mousedown and mouseup survives)
// and its listeners stay. Returns whether it changed.
export function setHTML(el, s) {
  const text = typeof s === 'string' ? s : s.s;
  if (el.__html === text) return false;
  el.innerHTML = text;
  el.__html = text;
  return true;
}

// Small helpers of the services page: escaping, formatting, the confirmation
// dialog, toasts (the same approach as the master's webui/app/util.js).

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

// Every value that comes from the server goes through esc() before it is put into HTML.
export function esc(v) {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]);
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

// Tagged template: interpolations are escaped unless wrapped in raw() or made by html``.
export function html(strings, ...values) {
  let out = strings[0];
  values.forEach((v, i) => {
    if (Array.isArray(v)) out += v.map((x) => (x instanceof Raw ? x.s : esc(x))).join('');
    else out += v instanceof Raw ? v.s : esc(v);
    out += strings[i + 1];
  });
  return new Raw(out);
}

export function fmtNumber(n, digits = 2) {
  if (typeof n !== 'number' || !isFinite(n)) return '-';
  return Number.isInteger(n) ? String(n) : n.toFixed(digits).replace(/\.?0+$/, '');
}

// Megabytes (as Marathon counts mem and disk) for humans.
export function fmtMB(mb) {
  if (typeof mb !== 'number' || !isFinite(mb)) return '-';
  if (mb >= 1024) return `${fmtNumber(mb / 1024)} GiB`;
  return `${fmtNumber(mb)} MiB`;
}

// An ISO-8601 time ("2026-11-24T15:36:17.799Z") as local date and time.
export function fmtTime(iso) {
  if (!iso) return '-';
  const d = new Date(iso);
  return isNaN(d.getTime()) ? String(iso) : d.toLocaleString(undefined, { hour12: false });
}

export function kv(pairs) {
  return html`<table class="kv">${pairs.map(([k, v]) => html`<tr><th>${k}</th><td>${v}</td></tr>`)}</table>`;
}

// Sets el's HTML only when it changed (an unchanged table is not rebuilt under the pointer).
export function setHTML(el, s) {
  const text = typeof s === 'string' ? s : s.s;
  if (el.__html === text) return false;
  el.innerHTML = text;
  el.__html = text;
  return true;
}

// Resolves true when the user confirms. Uses the page's <dialog id="confirm">.
export function confirmAction(title, text, okLabel) {
  const dlg = document.getElementById('confirm');
  dlg.querySelector('.confirm-title').textContent = title;
  dlg.querySelector('.confirm-text').textContent = text;
  dlg.querySelector('.confirm-ok').textContent = okLabel;
  return new Promise((resolve) => {
    const onClose = () => {
      dlg.removeEventListener('close', onClose);
      resolve(dlg.returnValue === 'ok');
    };
    dlg.addEventListener('close', onClose);
    dlg.returnValue = '';
    dlg.showModal();
  });
}

// A transient message at the bottom right of the page.
export function toast(text, kind = 'info') {
  const box = document.getElementById('toasts');
  const el = document.createElement('div');
  el.className = `toast ${kind}`;
  el.textContent = text;
  box.appendChild(el);
  setTimeout(() => el.remove(), kind === 'error' ? 10000 : 5000);
}

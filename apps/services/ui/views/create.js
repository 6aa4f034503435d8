// #/create: a form (id, cmd, cpus, mem, instances, constraints) and a JSON
// editor of the whole app definition, kept in step both ways. Submitting
// POSTs the JSON; a 422's details are shown next to the field their path
// names (the rest under the JSON editor), any other error above the form.

import { api } from '../api.js';
import { toast } from '../util.js';
import { applyForm, formFromDef, errorsByField, FORM_FIELDS } from '../model.js';

const DEFAULT_DEF = { id: '', cmd: '', cpus: 0.1, mem: 32, instances: 1 };

export function mount(root, { navigate }) {
  root.innerHTML = `<h1>Create application</h1>
    <form class="app-form" novalidate>
      <div class="fields card">
        <div class="form-error" data-error="form"></div>
        <label><span>ID</span><input name="id" placeholder="/group/app" autocomplete="off">
          <div class="field-error" data-for="id"></div></label>
        <label><span>Command</span><textarea name="cmd" rows="3" placeholder="python3 -m http.server $PORT0"></textarea>
          <div class="field-error" data-for="cmd"></div></label>
        <label><span>CPUs</span><input name="cpus" inputmode="decimal"><div class="field-error" data-for="cpus"></div></label>
        <label><span>Memory (MiB)</span><input name="mem" inputmode="decimal"><div class="field-error" data-for="mem"></div></label>
        <label><span>Instances</span><input name="instances" inputmode="numeric"><div class="field-error" data-for="instances"></div></label>
        <label><span>Constraints</span><textarea name="constraints" rows="3" placeholder="hostname:UNIQUE&#10;rack:GROUP_BY:2"></textarea>
          <div class="hint">One per line: field:OPERATOR[:value]</div>
          <div class="field-error" data-for="constraints"></div></label>
        <div class="toolbar"><button type="submit" class="primary" name="create">Create</button>
          <a class="button" href="#/apps">Cancel</a></div>
      </div>
      <div class="card">
        <label><span><b>JSON</b> <span class="hint">(the whole app definition: fields the form lacks go here)</span></span>
          <textarea class="json" name="json" spellcheck="false"></textarea></label>
        <div class="field-error" data-for="json"></div>
      </div>
    </form>`;
  const form = root.querySelector('form');
  const jsonBox = form.elements.json;
  let def = { ...DEFAULT_DEF };

  const setError = (field, text) => {
    const el = root.querySelector(`[data-for="${field}"]`) || root.querySelector('[data-error="form"]');
    el.textContent = text;
    const input = form.elements[field];
    if (input) input.classList.toggle('invalid', !!text);
  };
  const clearErrors = () => {
    for (const f of [...FORM_FIELDS, 'json']) setError(f, '');
    root.querySelector('[data-error="form"]').textContent = '';
  };
  const fillForm = () => {
    const v = formFromDef(def);
    for (const f of FORM_FIELDS) if (document.activeElement !== form.elements[f]) form.elements[f].value = v[f];
  };
  const formValues = () => Object.fromEntries(FORM_FIELDS.map((f) => [f, form.elements[f].value]));

  // form -> JSON
  form.addEventListener('input', (e) => {
    if (e.target === jsonBox) return;
    const r = applyForm(def, formValues());
    setError(e.target.name, '');
    if (r.error) {
      setError(r.field, r.error);
      return;
    }
    def = r.def;
    jsonBox.value = JSON.stringify(def, null, 2);
    setError('json', '');
  });
  // JSON -> form
  jsonBox.addEventListener('input', () => {
    try {
      const parsed = JSON.parse(jsonBox.value);
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('the definition must be a JSON object');
      def = parsed;
      setError('json', '');
      fillForm();
    } catch (err) {
      setError('json', `Invalid JSON: ${err.message}`);
    }
  });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors();
    let body;
    try {
      body = JSON.parse(jsonBox.value);
    } catch (err) {
      setError('json', `Invalid JSON: ${err.message}`);
      return;
    }
    const button = form.elements.create;
    button.disabled = true;
    try {
      const created = await api.create(body);
      toast(`Created ${created && created.id ? created.id : body.id}`);
      navigate(`#/apps${created && created.id ? created.id : body.id}`);
    } catch (err) {
      if (err.status === 422 && Array.isArray(err.details)) {
        for (const [field, errors] of errorsByField(err.details)) setError(field || 'json', errors.join('; '));
        root.querySelector('[data-error="form"]').textContent = err.message;
      } else {
        root.querySelector('[data-error="form"]').textContent = err.message;
      }
    } finally {
      button.disabled = false;
    }
  });

  jsonBox.value = JSON.stringify(def, null, 2);
  fillForm();
  return { refresh() {}, destroy() {} };
}

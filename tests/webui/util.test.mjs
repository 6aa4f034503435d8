// The UI's helpers without a browser (webui/app/util.js): escaping, and the
// paged tables that keep thousands of tasks out of the DOM.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { esc, html, raw, pagedTable, fmtMB, fmtResources, sandboxPath } from '../../webui/app/util.js';

test('values from the master are escaped, raw() is not', () => {
  assert.equal(esc('<img src=x onerror="a()">&\''), '&lt;img src=x onerror=&quot;a()&quot;&gt;&amp;&#39;');
  const name = '<script>alert(1)</script>';
  assert.equal(html`<td>${name}</td>`.s, '<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>');
  assert.equal(html`<td>${raw('<b>x</b>')}${['<i>', raw('<u>')]}</td>`.s, '<td><b>x</b>&lt;i&gt;<u></td>');
});

test('a table of 5,000 rows renders one page of 50, sorted, with a pager', () => {
  const rows = Array.from({ length: 5000 }, (_, i) => ({ id: `task-${String(i).padStart(5, '0')}`, n: i }));
  const cols = [{ title: 'ID', key: (r) => r.id, cell: (r) => esc(r.id) }, { title: 'N', key: (r) => r.n, cell: (r) => String(r.n) }];
  const out = pagedTable(rows, cols, { id: 't', page: 3, sortKey: 1, sortDesc: true, pageSize: 50 }).s;
  assert.equal((out.match(/<tr>/g) || []).length, 51, 'a header row and 50 rows');
  assert.match(out, /Page 4 of 100 \(5000 rows\)/);
  assert.match(out, /<td>task-04849<\/td>/, 'page 4, highest first, starts at 5000 - 150 - 1');
  assert.doesNotMatch(out, /task-04850/);
  const last = pagedTable(rows, cols, { id: 't', page: 1000, sortKey: 0 }).s;
  assert.match(last, /Page 100 of 100/, 'a page past the end shows the last one');
  assert.match(pagedTable([], cols, { id: 't', empty: 'No task matches.' }).s, /No task matches\./);
});

test('resources and sandbox paths are formatted as the master names them', () => {
  assert.equal(fmtMB(2048), '2 GB');
  assert.equal(fmtResources({ cpus: 0.5, mem: 64, disk: 0, ports: '[31000-31001]' }), '0.5 cpus, 64 MB, ports [31000-31001]');
  assert.equal(sandboxPath({ id: 't1', framework_id: 'f1', executor_id: '' }), '/frameworks/f1/executors/t1/runs/latest');
  assert.equal(sandboxPath({ id: 't1', framework_id: 'f1', executor_id: 'e1' }), '/frameworks/f1/executors/e1/runs/latest');
});

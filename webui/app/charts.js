// Utilization charts (uPlot, vendored under vendor/uplot/): used vs
// allocated vs total over the samples of /master/utilization, one chart per
// resource. A chart is created once and fed new data with setData().

const SERIES = [
  { key: 'used', label: 'used', stroke: '#d9480f', fill: 'rgba(217,72,15,0.12)' },
  { key: 'allocated', label: 'allocated', stroke: '#1971c2', fill: 'rgba(25,113,194,0.08)' },
  { key: 'total', label: 'total', stroke: '#495057', dash: [6, 4] },
];

// The master keeps 15 minutes of samples (cluster and per slave).
const WINDOW_SECONDS = 15 * 60;

export const RESOURCES = [
  { key: 'cpus', title: 'CPUs', unit: '' },
  { key: 'mem', title: 'Memory', unit: ' MB' },
  { key: 'disk', title: 'Disk', unit: ' MB' },
];

// [[t...], [used...], [allocated...], [total...]] for one resource.
export function seriesData(samples, resource) {
  const xs = [];
  const ys = SERIES.map(() => []);
  for (const s of samples || []) {
    const r = s[resource];
    if (typeof s.timestamp !== 'number' || !r) continue;
    xs.push(s.timestamp);
    SERIES.forEach((def, i) => ys[i].push(typeof r[def.key] === 'number' ? r[def.key] : null));
  }
  return [xs, ...ys];
}

function fmtValue(unit) {
  return (u, v) => (v === null || v === undefined ? '-' : `${Math.round(v * 100) / 100}${unit}`);
}

// A chart bound to a container element; update(samples) redraws it.
export class UtilizationChart {
  constructor(container, resource, title, unit) {
    this.container = container;
    this.resource = resource;
    this.title = title;
    this.unit = unit;
    this.plot = null;
    this.resizeObserver = null;
  }

  width() {
    return Math.max(240, Math.floor(this.container.clientWidth || 400));
  }

  update(samples) {
    const data = seriesData(samples, this.resource);
    if (data[0].length === 0) {
      this.destroy();
      this.container.innerHTML = '<div class="chart-empty">no data</div>';
      this.container.dataset.points = '0';
      return;
    }
    this.container.dataset.points = String(data[0].length);
    if (typeof window.uPlot !== 'function') {
      this.container.innerHTML = '<div class="chart-empty">charts unavailable (uPlot did not load)</div>';
      return;
    }
    if (this.plot) {
      this.plot.setData(data);
      return;
    }
    this.container.innerHTML = '';
    const opts = {
      title: this.title,
      width: this.width(),
      height: 200,
      cursor: { drag: { x: false, y: false } },
      // Always the last WINDOW_SECONDS up to the newest sample (uPlot would
      // stretch one sample over years).
      scales: {
        x: { time: true, range: (u, min, max) => [Math.min(min, max - WINDOW_SECONDS), max] },
        y: { range: (u, min, max) => [0, Math.max(max, 1) * 1.05] },
      },
      axes: [{}, { values: (u, vals) => vals.map((v) => `${Math.round(v * 100) / 100}`), size: 60 }],
      series: [
        {},
        ...SERIES.map((s) => ({ label: s.label, stroke: s.stroke, fill: s.fill, dash: s.dash, width: 1.5,
          value: fmtValue(this.unit), spanGaps: true })),
      ],
    };
    this.plot = new window.uPlot(opts, data, this.container);
    if (typeof ResizeObserver === 'function') {
      this.resizeObserver = new ResizeObserver(() => {
        if (this.plot) this.plot.setSize({ width: this.width(), height: 200 });
      });
      this.resizeObserver.observe(this.container);
    }
  }

  destroy() {
    if (this.resizeObserver) this.resizeObserver.disconnect();
    this.resizeObserver = null;
    if (this.plot) this.plot.destroy();
    this.plot = null;
  }
}

// The chart group for a list of samples: `root` gets one box per resource.
export class ChartGroup {
  constructor(root) {
    this.root = root;
    root.innerHTML = RESOURCES.map((r) => `<div class="chart" data-resource="${r.key}"></div>`).join('');
    this.charts = RESOURCES.map((r) =>
      new UtilizationChart(root.querySelector(`[data-resource="${r.key}"]`), r.key, r.title, r.unit));
  }

  update(samples) {
    for (const c of this.charts) c.update(samples);
  }

  message(text) {
    this.destroy();
    this.root.innerHTML = `<div class="chart-empty">${text}</div>`;
  }

  destroy() {
    for (const c of this.charts) c.destroy();
  }
}

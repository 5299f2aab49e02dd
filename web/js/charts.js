// Charts as inline SVG built with DOM APIs (no libraries, nothing inline for the CSP to refuse).
// Colours come from CSS classes (series-0…series-n), so print and high-contrast styles can change them.
import { h, s } from "./dom.js";
import { formatNumber, t } from "./i18n.js";

const W = 640;
const H = 260;
const PAD = { top: 16, right: 40, bottom: 48, left: 48 };

function frame(title, max, format) {
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: "chart", "aria-label": t("chart.label", { title }) },
    s("title", {}, title));
  const plotH = H - PAD.top - PAD.bottom;
  for (let i = 0; i <= 4; i += 1) {
    const value = (max * i) / 4;
    const y = PAD.top + plotH - (plotH * i) / 4;
    svg.append(s("line", { x1: PAD.left, x2: W - PAD.right, y1: y, y2: y, class: "grid" }),
      s("text", { x: PAD.left - 6, y: y + 4, class: "axis", "text-anchor": "end" }, format(value)));
  }
  return svg;
}

function legend(names) {
  return h("ul", { class: "legend" }, names.map((name, i) => h("li", {}, h("span", { class: `swatch series-${i % 8}` }), name)));
}

function niceMax(value) {
  if (value <= 0) return 1;
  const step = 10 ** Math.floor(Math.log10(value));
  return Math.ceil(value / step) * step;
}

/** Stacked bars: labels along x; series [{name, values: [..]}] stacked on each label. */
export function stackedBars(title, labels, series, { format = formatNumber } = {}) {
  const totals = labels.map((_, i) => series.reduce((sum, serie) => sum + (serie.values[i] || 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const svg = frame(title, max, format);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(labels.length, 1);
  labels.forEach((text, i) => {
    let y = PAD.top + plotH;
    const x = PAD.left + i * slot + slot * 0.15;
    series.forEach((serie, j) => {
      const value = serie.values[i] || 0;
      const height = (plotH * value) / max;
      y -= height;
      if (value > 0) {
        svg.append(s("rect", { x, y, width: slot * 0.7, height, class: `bar series-${j % 8}` },
          s("title", {}, `${text} · ${serie.name}: ${format(value)}`)));
      }
    });
    svg.append(s("text", { x: x + slot * 0.35, y: H - PAD.bottom + 18, class: "axis", "text-anchor": "middle" }, text));
  });
  return h("figure", { class: "chart-figure" }, h("figcaption", {}, title), svg, legend(series.map((x) => x.name)));
}

/** Lines over labels along x; series [{name, values: [..]}]. */
export function lines(title, labels, series, { format = formatNumber, max: fixedMax } = {}) {
  const max = fixedMax ?? niceMax(Math.max(0, ...series.flatMap((serie) => serie.values.filter((v) => v !== null))));
  const svg = frame(title, max, format);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const xAt = (i) => PAD.left + (labels.length > 1 ? (plotW * i) / (labels.length - 1) : plotW / 2);
  const yAt = (v) => PAD.top + plotH - (plotH * v) / max;
  series.forEach((serie, j) => {
    const points = serie.values.map((v, i) => (v === null || v === undefined ? null : [xAt(i), yAt(v), v, i])).filter(Boolean);
    if (points.length > 1) {
      svg.append(s("polyline", { points: points.map(([x, y]) => `${x},${y}`).join(" "), class: `line series-${j % 8}` }));
    }
    points.forEach(([x, y, v, i]) => svg.append(s("circle", { cx: x, cy: y, r: 4, class: `dot series-${j % 8}` },
      s("title", {}, `${labels[i]} · ${serie.name}: ${format(v)}`))));
  });
  labels.forEach((text, i) => svg.append(s("text", { x: xAt(i), y: H - PAD.bottom + 18, class: "axis", "text-anchor": "middle" }, text)));
  return h("figure", { class: "chart-figure" }, h("figcaption", {}, title), svg, legend(series.map((x) => x.name)));
}

/** Horizontal bars, one per item [{name, value}]. */
export function bars(title, entries, { format = formatNumber } = {}) {
  const max = niceMax(Math.max(0, ...entries.map((e) => e.value)));
  const rowH = 32;
  const height = Math.max(entries.length * rowH + 16, 48);
  const left = 160;
  const svg = s("svg", { viewBox: `0 0 ${W} ${height}`, role: "img", class: "chart", "aria-label": t("chart.label", { title }) },
    s("title", {}, title));
  entries.forEach((entry, i) => {
    const y = 8 + i * rowH;
    const width = ((W - left - 80) * entry.value) / max;
    svg.append(
      s("text", { x: left - 8, y: y + 18, class: "axis", "text-anchor": "end" }, entry.name),
      s("rect", { x: left, y: y + 4, width: Math.max(width, 1), height: rowH - 10, class: `bar series-${i % 8}` }),
      s("text", { x: left + width + 6, y: y + 18, class: "axis" }, format(entry.value)),
    );
  });
  return h("figure", { class: "chart-figure" }, h("figcaption", {}, title), svg);
}

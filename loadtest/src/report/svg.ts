/** A small hand-written SVG horizontal grouped bar chart: no dependency, readable in any browser or on GitHub. */
export interface Bar {
  readonly label: string;
  readonly value: number;
}

export interface BarGroup {
  readonly label: string;
  readonly bars: readonly Bar[];
}

export interface BarChart {
  readonly title: string;
  readonly unit: string;
  readonly groups: readonly BarGroup[];
}

const PALETTE: Record<string, string> = {
  "no-op gRPC": "#9e9e9e",
  "raw Redis": "#757575",
  "raw PostgreSQL": "#616161",
  memory: "#4e79a7",
  redis: "#e15759",
  "redis+archive": "#f28e2b",
  target: "#59a14f",
};
const FALLBACK = ["#76b7b2", "#edc948", "#b07aa1", "#ff9da7"];

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function formatValue(value: number): string {
  if (value >= 100) return Math.round(value).toLocaleString("en-US");
  return value.toFixed(value >= 10 ? 1 : 2);
}

export function renderBarChart(chart: BarChart): string {
  const barHeight = 18;
  const groupGap = 14;
  const left = 230;
  const width = 760;
  const plotWidth = width - left - 90;
  const top = 40;
  // Each group has its own scale: groups differ by orders of magnitude, and the values are printed.
  const maxOf = (group: BarGroup) => Math.max(1e-9, ...group.bars.map((b) => b.value));
  const rows: string[] = [];
  let y = top;
  let fallback = 0;
  const colors = new Map<string, string>();
  const colorOf = (label: string) => {
    let color = colors.get(label) ?? PALETTE[label];
    if (!color) {
      color = FALLBACK[fallback++ % FALLBACK.length] as string;
    }
    colors.set(label, color);
    return color;
  };
  for (const group of chart.groups) {
    const max = maxOf(group);
    rows.push(`<text x="8" y="${y + 13}" font-weight="bold">${escapeXml(group.label)}</text>`);
    for (const bar of group.bars) {
      const w = Math.max(1, (bar.value / max) * plotWidth);
      rows.push(
        `<text x="${left - 6}" y="${y + 13}" text-anchor="end">${escapeXml(bar.label)}</text>`,
        `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barHeight - 3}" fill="${colorOf(bar.label)}"/>`,
        `<text x="${(left + w + 4).toFixed(1)}" y="${y + 13}">${formatValue(bar.value)}</text>`,
      );
      y += barHeight;
    }
    y += groupGap;
  }
  const height = y + 10;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12" role="img" aria-label="${escapeXml(chart.title)}">`,
    `<title>${escapeXml(chart.title)}</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="8" y="22" font-size="15" font-weight="bold">${escapeXml(chart.title)}</text>`,
    `<text x="${width - 8}" y="22" text-anchor="end" fill="#555">${escapeXml(`${chart.unit} (bars scaled per group)`)}</text>`,
    ...rows,
    "</svg>",
    "",
  ].join("\n");
}

/**
 * The soak benchmark (`npm run bench:soak`, `-- --smoke` for ~20 s): many
 * short-lived subjects churned for a bounded time through one gateway per
 * engine, sampling the gateway's RSS and (Redis engine) its Redis's
 * used_memory once a second, to show both flat once the first messages have
 * expired and been swept. Each round publishes one PublishBatch of
 * `--rate` messages to as many new subjects (never used again), with
 * `--ttl` seconds of expiry. Redis is a private redis-server, so used_memory
 * is this run's alone. Writes soak-<engines>.svg (memory over time) and
 * soak-<engines>.md (a table) to `--out` (default loadtest/report).
 *
 * Options: --smoke, --seconds N (default 150), --rate N subjects/s (default
 * 2000), --ttl S (default 5), --engines memory,redis, --out DIR.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { PrivateRedis } from "../../../test/support/private-redis.js";
import { BrokerChannels } from "../grpc-client.js";
import { processRssBytes } from "../proc.js";
import { type EngineName, startGateway } from "../servers.js";

interface Sample {
  readonly t: number;
  readonly rss: number;
  readonly usedMemory: number | undefined;
  readonly published: number;
}

interface Run {
  readonly engine: EngineName;
  readonly samples: Sample[];
  readonly failures: number;
}

const MiB = 1024 * 1024;

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? (process.argv[index + 1] ?? fallback) : fallback;
}

const smoke = process.argv.includes("--smoke");
const seconds = Number(option("seconds", smoke ? "20" : "150"));
const rate = Number(option("rate", smoke ? "1000" : "2000"));
const ttl = Number(option("ttl", smoke ? "3" : "5"));
const engines = option("engines", "memory,redis").split(",") as EngineName[];
const outDir = option("out", "loadtest/report");
const name = `soak-${engines.join("+")}`;

async function soak(engine: EngineName, redis: PrivateRedis): Promise<Run> {
  const admin = redis.connect();
  const gateway = await startGateway(engine, redis.url, { REDIS_SWEEP_INTERVAL_MS: "1000" });
  const client = new BrokerChannels(gateway.address, 2);
  const samples: Sample[] = [];
  let published = 0;
  let failures = 0;
  const started = Date.now();
  const sample = async () => {
    const info = engine === "memory" ? undefined : await admin.info("memory");
    const used = info ? Number(/used_memory:(\d+)/.exec(info)?.[1]) : undefined;
    samples.push({
      t: (Date.now() - started) / 1000,
      rss: processRssBytes(gateway.pid as number),
      usedMemory: used,
      published,
    });
  };
  try {
    await sample();
    for (let round = 0; Date.now() - started < seconds * 1000; round++) {
      const due = started + (round + 1) * 1000;
      const messages = Array.from({ length: rate }, (_, i) => ({
        subject: `soak.${round}.${i}`,
        body: Buffer.from(`message ${i} of round ${round}`),
        expirationSeconds: ttl,
        idempotencyKey: "",
      }));
      await client.publishBatch({ messages }).then(
        () => {
          published += rate;
        },
        () => {
          failures += 1;
        },
      );
      await sample();
      process.stderr.write(`\r${engine}: ${Math.round((Date.now() - started) / 1000)} s, ${published} subjects`);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
    }
    process.stderr.write("\n");
    return { engine, samples, failures };
  } finally {
    client.close();
    admin.disconnect();
    await gateway.stop();
  }
}

/**
 * Over the samples after `from` seconds: the range, the highest value in each half (garbage collection
 * makes RSS a sawtooth, so "flat" means the second half peaks no higher than the first), and the
 * change per minute of a least-squares line.
 */
function trend(samples: readonly Sample[], value: (s: Sample) => number | undefined, from: number) {
  const points = samples.filter((s) => s.t >= from && value(s) !== undefined).map((s) => [s.t, value(s) as number]);
  if (points.length < 2) return undefined;
  const half = Math.floor(points.length / 2);
  const firstHalfMax = Math.max(...points.slice(0, half).map(([, y]) => y as number));
  const secondHalfMax = Math.max(...points.slice(half).map(([, y]) => y as number));
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + (x as number), 0) / n;
  const my = points.reduce((a, [, y]) => a + (y as number), 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of points) {
    sxy += ((x as number) - mx) * ((y as number) - my);
    sxx += ((x as number) - mx) ** 2;
  }
  const ys = points.map(([, y]) => y as number);
  return {
    mean: my,
    min: Math.min(...ys),
    max: Math.max(...ys),
    firstHalfMax,
    secondHalfMax,
    slopePerMinute: sxx > 0 ? (sxy / sxx) * 60 : 0,
  };
}

const COLORS: Record<string, string> = { memory: "#4e79a7", redis: "#e15759", "redis+archive": "#f28e2b" };

/** Two stacked line charts (gateway RSS, Redis used_memory) over time, one line per engine. */
function renderSvg(runs: readonly Run[], flatFrom: number): string {
  const width = 760;
  const panelHeight = 220;
  const left = 60;
  const right = 20;
  const panels = [
    { title: "gateway RSS (MiB)", value: (s: Sample) => s.rss / MiB },
    {
      title: "Redis used_memory (MiB)",
      value: (s: Sample) => (s.usedMemory === undefined ? undefined : s.usedMemory / MiB),
    },
  ];
  const maxT = Math.max(1, ...runs.flatMap((r) => r.samples.map((s) => s.t)));
  const parts: string[] = [];
  const shown = panels.filter((panel) => runs.some((r) => r.samples.some((s) => panel.value(s) !== undefined)));
  shown.forEach((panel, p) => {
    const top = 50 + p * (panelHeight + 50);
    const values = runs.flatMap((r) => r.samples.map(panel.value).filter((v): v is number => v !== undefined));
    const maxV = Math.max(1, ...values) * 1.1;
    const x = (t: number) => left + (t / maxT) * (width - left - right);
    const y = (v: number) => top + panelHeight - (v / maxV) * panelHeight;
    parts.push(`<text x="${left}" y="${top - 10}" font-weight="bold">${panel.title}</text>`);
    parts.push(
      `<rect x="${left}" y="${top}" width="${width - left - right}" height="${panelHeight}" fill="none" stroke="#ccc"/>`,
    );
    for (let i = 0; i <= 4; i++) {
      const v = (maxV * i) / 4;
      parts.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end" fill="#555">${v.toFixed(0)}</text>`);
    }
    parts.push(
      `<line x1="${x(flatFrom)}" y1="${top}" x2="${x(flatFrom)}" y2="${top + panelHeight}" stroke="#999" stroke-dasharray="4 3"/>`,
    );
    parts.push(
      `<text x="${x(maxT)}" y="${top + panelHeight + 16}" text-anchor="end" fill="#555">${maxT.toFixed(0)} s</text>`,
    );
    for (const run of runs) {
      const points = run.samples
        .map((s) => [s.t, panel.value(s)] as const)
        .filter((pt): pt is readonly [number, number] => pt[1] !== undefined)
        .map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`);
      if (points.length === 0) continue;
      const color = COLORS[run.engine] ?? "#76b7b2";
      parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${points.join(" ")}"/>`);
    }
  });
  const legend = runs
    .map(
      (r, i) => `<text x="${left + 10 + i * 120}" y="30" fill="${COLORS[r.engine] ?? "#76b7b2"}">■ ${r.engine}</text>`,
    )
    .join("");
  const height = 50 + shown.length * (panelHeight + 50);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="8" y="16" font-size="14" font-weight="bold">Soak: ${rate} new subjects/s, ${ttl} s expiry, ${seconds} s (dashed: ${flatFrom} s, two expiries in)</text>`,
    legend,
    ...parts,
    "</svg>",
    "",
  ].join("\n");
}

function renderMarkdown(runs: readonly Run[], flatFrom: number): string {
  const mb = (v: number | undefined) => (v === undefined ? "–" : (v / MiB).toFixed(1));
  const lines = [
    "# Soak: short-lived subjects churned",
    "",
    `${new Date().toISOString()}: each second one PublishBatch of ${rate} messages to ${rate} new subjects, ` +
      `${ttl} s expiry, for ${seconds} s (\`npm run bench:soak -- ${process.argv.slice(2).join(" ")}\`). ` +
      `"After" columns cover the samples from ${flatFrom} s on (two expiries plus the sweep); flat means the second half peaks no higher than the first (garbage collection makes RSS a sawtooth, so the slope alone misleads).`,
    "",
    "| engine | subjects published | failed batches | reading | at start | after: min | after: peak, 1st half | after: peak, 2nd half | after: slope (MiB/min) |",
    "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const run of runs) {
    const published = run.samples[run.samples.length - 1]?.published ?? 0;
    const readings: [string, (s: Sample) => number | undefined][] = [["gateway RSS (MiB)", (s) => s.rss]];
    if (run.engine !== "memory") readings.push(["Redis used_memory (MiB)", (s) => s.usedMemory]);
    for (const [name, value] of readings) {
      const t = trend(run.samples, value, flatFrom);
      const first = run.samples[0] ? value(run.samples[0]) : undefined;
      lines.push(
        `| ${run.engine} | ${published.toLocaleString("en-US")} | ${run.failures} | ${name} | ${mb(first)} | ${mb(t?.min)} | ${mb(t?.firstHalfMax)} | ${mb(t?.secondHalfMax)} | ${t ? (t.slopePerMinute / MiB).toFixed(2) : "–"} |`,
      );
    }
  }
  lines.push("", `![memory over time](${name}.svg)`, "");
  return lines.join("\n");
}

const redis = await PrivateRedis.start();
try {
  const runs: Run[] = [];
  for (const engine of engines) runs.push(await soak(engine, redis));
  const flatFrom = Math.min(seconds, 2 * ttl + 2);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, `${name}.svg`), renderSvg(runs, flatFrom));
  const markdown = renderMarkdown(runs, flatFrom);
  writeFileSync(path.join(outDir, `${name}.md`), markdown);
  process.stdout.write(markdown);
} finally {
  await redis.destroy();
}

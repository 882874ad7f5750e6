import * as hdr from "hdr-histogram-js";

/** Latency percentiles in milliseconds, as the JSON results and the report carry them. */
export interface LatencySummary {
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p95: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/** An HDR histogram of latencies recorded in microseconds (1 µs .. 60 s, 3 significant digits). */
export class LatencyHistogram {
  private readonly histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });

  recordMs(ms: number): void {
    // Clamp so a clock step or an outlier never throws out of the histogram.
    const us = Math.min(60_000_000, Math.max(1, Math.round(ms * 1000)));
    this.histogram.recordValue(us);
  }

  /** Adds another histogram's values to this one (merging rounds). */
  add(other: LatencyHistogram): void {
    this.histogram.add(other.histogram);
  }

  get count(): number {
    return this.histogram.totalCount;
  }

  summary(): LatencySummary {
    const at = (p: number) => this.histogram.getValueAtPercentile(p) / 1000;
    return {
      count: this.histogram.totalCount,
      mean: this.histogram.mean / 1000,
      p50: at(50),
      p90: at(90),
      p95: at(95),
      p99: at(99),
      p999: at(99.9),
      max: this.histogram.maxValue / 1000,
    };
  }
}

/** Milliseconds on a clock comparable across processes on this machine. */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

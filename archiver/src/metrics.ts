import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { ARCHIVER_METRICS } from "../../gateway/src/process/metric-names.js";

/**
 * The archiver's metrics, under the names the dashboard and alert rules use.
 * The archiver serves `registry` with `serveMetrics(registrySource(registry), METRICS_PORT)`.
 */
export class ArchiverMetrics {
  readonly registry = new Registry();
  /** Age of the oldest message not yet archived, in seconds; 0 when caught up. */
  readonly lagSeconds: Gauge;
  /** Rows per batch written to PostgreSQL. */
  readonly batchRows: Histogram;
  readonly rowsArchived: Counter;
  /** Passes failed in a row; 0 while passes succeed. */
  readonly failingPasses: Gauge;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.lagSeconds = new Gauge({
      name: ARCHIVER_METRICS.lagSeconds,
      help: "Age of the oldest message not yet archived, in seconds (0 when caught up).",
      registers,
    });
    this.batchRows = new Histogram({
      name: ARCHIVER_METRICS.batchRows,
      help: "Rows per batch written to PostgreSQL.",
      buckets: [1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
      registers,
    });
    this.rowsArchived = new Counter({
      name: ARCHIVER_METRICS.rowsArchived,
      help: "Rows written to PostgreSQL.",
      registers,
    });
    this.failingPasses = new Gauge({
      name: ARCHIVER_METRICS.failingPasses,
      help: "Archiver passes failed in a row (0 while passes succeed).",
      registers,
    });
  }
}

/**
 * The container HEALTHCHECK: exits 0 when HEALTHCHECK_URL (default: this
 * gateway's /healthz on HTTP_PORT) answers 2xx within two seconds, else 1.
 * The archiver sets HEALTHCHECK_URL to its /metrics.
 */
const url = process.env.HEALTHCHECK_URL || `http://127.0.0.1:${process.env.HTTP_PORT || "8080"}/healthz`;
try {
  const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  process.exit(response.ok ? 0 : 1);
} catch {
  process.exit(1);
}

import v8 from "node:v8";

/**
 * How far V8 lets the old generation grow past what the last full collection
 * kept before it starts the next one, as a percentage (300: to 4 times).
 *
 * V8 picks the factor itself (about 2.2 on the gateway) and starts marking
 * once the room left is about one young generation (16 MiB), so on the
 * gateway's ~20 MiB live heap a full collection began after only ~3 MiB of
 * old-space growth: every 2-3 s at 2,000 deliveries/s, each a 10-20 ms pause
 * that set the end-to-end p99 (a fifth of each pause is finalizing the
 * external strings node:http2 makes for every request's header values). With
 * 300, one full collection in the same 10 s run instead of five; the 10,000
 * idle subscriptions' RSS did not move (211 vs 212 MiB). V8 reads the flag at
 * every collection, so setting it at start is enough.
 */
export function setHeapGrowingPercent(percent: number): void {
  if (percent > 0) v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
}

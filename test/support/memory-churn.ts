/**
 * Run as its own process (node --expose-gc --import tsx) by the bounded-storage
 * tests, so its RSS is the memory engine's alone. Modes:
 * - `churn <subjects>`: publishes one empty-bodied, 1 s message on each of
 *   <subjects> new subjects, moves the (fake) clock past their expiry, runs the
 *   sweep, and prints RSS before, at the peak and after, as JSON.
 * - `costs <n>`: measures the heap a message and a subject take (for
 *   memory-costs.ts) and prints them with what the engine accounts.
 */
import { MemoryEngine } from "../../gateway/src/engines/memory/memory-engine.js";

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --expose-gc");
const collect = async (): Promise<void> => {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};
const used = (): number => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

const [mode, countArg] = process.argv.slice(2);
const count = Number(countArg ?? 100_000);
let clock = Date.now();
const engine = new MemoryEngine({ now: () => clock, maxSubjects: count + 10, sweepIntervalMs: 3_600_000 });
const empty = new Uint8Array(0);

if (mode === "churn") {
  // Warm up: the code paths compiled, the floor table touched, one subject deleted.
  await engine.append("warm-up", empty, clock + 1_000);
  clock += 2_000;
  engine.releaseExpired();
  await collect();
  const before = process.memoryUsage().rss;
  const heapBefore = used();
  if (process.env.CHURN_DEBUG) console.error(JSON.stringify(process.memoryUsage()));
  for (let i = 0; i < count; i++) await engine.append(`churn.subject.${i}`, empty, clock + 1_000);
  await collect();
  const peak = process.memoryUsage().rss;
  const heapPeak = used();
  const subjectsAtPeak = engine.subjectCount;
  clock += 2_000;
  engine.releaseExpired();
  await collect();
  // V8 gives freed heap pages back to the system from its memory reducer, which runs once the process idles.
  await new Promise((resolve) => setTimeout(resolve, Number(process.env.CHURN_IDLE_MS ?? 8_000)));
  await collect();
  const after = process.memoryUsage().rss;
  const heapAfter = used();
  if (process.env.CHURN_DEBUG) console.error(JSON.stringify(process.memoryUsage()));
  console.log(
    JSON.stringify({
      before,
      peak,
      after,
      heapBefore,
      heapPeak,
      heapAfter,
      subjectsAtPeak,
      subjectsAfter: engine.subjectCount,
      bytes: engine.bytesRetained,
    }),
  );
} else if (mode === "costs") {
  const body = new Uint8Array(Number(process.env.COSTS_BODY_BYTES ?? 0));
  await engine.append("costs.base", body, clock + 3_600_000);
  await collect();
  const start = used();
  for (let i = 0; i < count; i++) await engine.append("costs.base", body, clock + 3_600_000);
  await collect();
  const perMessage = (used() - start) / count;
  const accountedStart = engine.bytesRetained;
  const mid = used();
  for (let i = 0; i < count; i++)
    await engine.append(`costs.subject.${String(i).padStart(8, "0")}`, body, clock + 3_600_000);
  await collect();
  const perSubjectWithMessage = (used() - mid) / count;
  const accountedPerSubjectWithMessage = (engine.bytesRetained - accountedStart) / count;
  console.log(
    JSON.stringify({
      perMessage,
      accountedPerMessage: accountedStart / (count + 1),
      perSubjectWithMessage,
      accountedPerSubjectWithMessage,
    }),
  );
}
await engine.close();

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type BrokerClient, brokerClient, type Route } from "./support/clients.js";
import { ENGINES, gatewayForSuite } from "./support/gateway.js";
import { bytes, sleep, subscribeLive, type TestSubscription, text } from "./support/streams.js";

const RACE_MS = 1_000;
/** On a busy machine the race runs on (at most this long) until each kind of call has happened enough. */
const MAX_RACE_MS = 15_000;
const ENOUGH = { publish: 50, fetch: 20, subscribe: 10 };
const SUBJECTS = ["race-a", "race-b", "race-c"];
const ROUTES: readonly Route[] = ["grpc", "connect", "connect-h2c", "grpc-web", "grpc-web-h2c", "grpc-on-http-port"];

function assertContiguous(ids: number[], label: string): void {
  for (let i = 1; i < ids.length; i++) {
    assert.equal(ids[i], (ids[i - 1] as number) + 1, `${label}: ids ${ids[i - 1]} then ${ids[i]}`);
  }
}

for (const engine of ENGINES) {
  describe(`publish, subscribe and fetch racing for a second, ${engine} engine`, () => {
    const suite = gatewayForSuite(engine);

    it("completes every call without an error and keeps every stream in order", async () => {
      const clients: BrokerClient[] = ROUTES.map((route) => brokerClient(suite.gateway, route));
      const client = (n: number) => clients[n % clients.length] as BrokerClient;
      // Fetchable messages acknowledged so far, per subject: id -> body.
      const acked = new Map<string, Map<number, string>>(SUBJECTS.map((s) => [s, new Map()]));
      const watchers = await Promise.all(SUBJECTS.map((s, n) => subscribeLive(client(n), s)));
      const counts = { publish: 0, fetch: 0, subscribe: 0 };
      const started = Date.now();
      const enough = () =>
        counts.publish > ENOUGH.publish && counts.fetch > ENOUGH.fetch && counts.subscribe > ENOUGH.subscribe;
      const racing = () => {
        const elapsed = Date.now() - started;
        return elapsed < RACE_MS || (!enough() && elapsed < MAX_RACE_MS);
      };

      const publisher = async (n: number) => {
        for (let i = 0; racing(); i++) {
          const subject = SUBJECTS[(n + i) % SUBJECTS.length] as string;
          const body = `p${n}-${i}`;
          const expirationSeconds = i % 5 === 0 ? 0 : 60;
          const { id } = await client(n + i).publish({ subject, body: bytes(body), expirationSeconds });
          if (expirationSeconds > 0) acked.get(subject)?.set(Number(id), body);
          counts.publish += 1;
        }
      };
      const fetcher = async (n: number) => {
        for (let i = 0; racing(); i++) {
          const subject = SUBJECTS[(n + i) % SUBJECTS.length] as string;
          const known = [...(acked.get(subject)?.entries() ?? [])];
          const pick = known[(i * 7919) % Math.max(known.length, 1)];
          if (!pick) {
            await sleep(1);
            continue;
          }
          const message = await client(n + i).fetch({ subject, id: BigInt(pick[0]) });
          assert.equal(text(message.body), pick[1]);
          counts.fetch += 1;
        }
      };
      const churner = async (n: number) => {
        for (let i = 0; racing(); i++) {
          const subject = SUBJECTS[(n + i) % SUBJECTS.length] as string;
          const subscription: TestSubscription = await subscribeLive(client(n + i), subject);
          await sleep(5 + (i % 20));
          subscription.close();
          const ended = await subscription.finished;
          // A stream this client cancelled ends with its own abort, nothing else.
          if (ended !== undefined) assert.match(String(ended), /abort|cancel/i);
          assertContiguous(
            subscription.received.map((m) => Number(m.id)),
            `churned subscription on ${subject}`,
          );
          counts.subscribe += 1;
        }
      };

      try {
        await Promise.all([...[0, 1, 2, 3].map(publisher), ...[0, 1].map(fetcher), ...[0, 1, 2].map(churner)]);
        assert.ok(enough(), JSON.stringify(counts));
        // The subscribers that stayed for the whole race saw every id of their subject, in order.
        for (const [n, subject] of SUBJECTS.entries()) {
          const last = await client(0).publish({ subject, body: bytes("last"), expirationSeconds: 60 });
          const got = await (watchers[n] as TestSubscription).waitFor(Number(last.id));
          assert.deepEqual(
            got.map((m) => Number(m.id)),
            Array.from({ length: Number(last.id) }, (_, i) => i + 1),
          );
        }
      } finally {
        for (const watcher of watchers) watcher.close();
      }
    });
  });
}

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import type { MessageResponse } from "../gateway/gen/broker/broker_pb.js";
import { type BrokerClient, brokerClient } from "./support/clients.js";
import { ENGINES, startGateway } from "./support/gateway.js";
import { bytes, text } from "./support/streams.js";

/** Reads a resumed stream until `until` says stop (bounded by a timeout). */
async function readResumed(
  client: BrokerClient,
  subject: string,
  resumeAfterId: bigint,
  until: (received: MessageResponse[]) => boolean,
  timeoutMs = 10_000,
): Promise<MessageResponse[]> {
  const received: MessageResponse[] = [];
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    for await (const message of client.subscribe({ subject, resumeAfterId }, { signal: abort.signal })) {
      received.push(message);
      if (until(received)) break;
    }
  } catch (err) {
    if (!abort.signal.aborted) throw err;
    assert.fail(`timed out after ${received.length} messages`);
  } finally {
    clearTimeout(timer);
  }
  return received;
}

async function publishMany(client: BrokerClient, subject: string, count: number, from = 0): Promise<void> {
  for (let i = from; i < from + count; i++) {
    await client.publish({ subject, body: bytes(`m${i}`), expirationSeconds: 60 });
  }
}

const ids = (messages: MessageResponse[]) => messages.map((m) => Number(m.id));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

for (const engine of ENGINES) {
  describe(`resuming a subscription on the ${engine} engine`, () => {
    let stop: () => Promise<void>;
    let client: BrokerClient;
    before(async () => {
      const started = await startGateway(engine, {
        // Small pages and buffers exercise paging and the replay/live seam.
        subscriberBufferMessages: 16,
        memoryMaxMessagesPerSubject: 100,
        redisMaxLenPerSubject: 100,
      });
      stop = started.stop;
      client = brokerClient(started.gateway, "grpc");
    });
    after(() => stop());

    it("replays every stored message after the position, then continues live", async () => {
      const subject = "resume-basic";
      await publishMany(client, subject, 10);
      const publishLater = setTimeout(() => void publishMany(client, subject, 3, 10), 200);
      const got = await readResumed(client, subject, 4n, (r) => r.length >= 9);
      clearTimeout(publishLater);
      assert.deepEqual(ids(got), range(5, 13));
      assert.deepEqual(
        got.map((m) => text(m.body)),
        range(4, 12).map((i) => `m${i}`),
      );
      assert.ok(got.every((m) => m.subject === subject && m.publishedAtMs > 0n && m.gap === undefined));
    });

    it("has no gap and no duplicate at the seam while publishers are busy", async () => {
      const subject = "resume-seam";
      await publishMany(client, subject, 20);
      let publishing = true;
      let published = 20;
      const publisher = (async () => {
        while (publishing && published < 80) {
          await client.publish({ subject, body: bytes(`m${published}`), expirationSeconds: 60 });
          published += 1;
        }
      })();
      const got = await readResumed(client, subject, 10n, (r) => r.length >= 60);
      publishing = false;
      await publisher;
      assert.deepEqual(ids(got), range(11, 70));
    });

    it("replays from 0 as the whole stored history", async () => {
      const subject = "resume-zero";
      await publishMany(client, subject, 5);
      assert.deepEqual(ids(await readResumed(client, subject, 0n, (r) => r.length >= 5)), range(1, 5));
    });

    it("tells the client about a trimmed range with a Gap marker, then goes on", async () => {
      const subject = "resume-trimmed";
      await publishMany(client, subject, 400);
      const got = await readResumed(client, subject, 0n, (r) => Number(r[r.length - 1]?.id ?? 0) >= 400);
      const [first, ...rest] = got;
      assert.ok(first?.gap, "the first item is a gap marker");
      assert.equal(first.gap.firstId, 1n);
      assert.equal(Number(first.gap.lastId) + 1, Number(rest[0]?.id), "the gap ends right before the next message");
      assert.match(first.gap.reason, /not stored/);
      assert.deepEqual(ids(rest), range(Number(rest[0]?.id), 400));
      assert.equal(first.body.length, 0);
    });

    it("refuses to resume after an id the subject has not reached (OUT_OF_RANGE)", async () => {
      const subject = "resume-future";
      await publishMany(client, subject, 2);
      await assert.rejects(
        readResumed(client, subject, 3n, () => true),
        (err: unknown) =>
          err instanceof ConnectError &&
          err.code === Code.OutOfRange &&
          /last id on subject .* is 2/.test(err.rawMessage),
      );
      await assert.rejects(
        readResumed(client, subject, -1n, () => true),
        (err: unknown) => err instanceof ConnectError && err.code === Code.InvalidArgument,
      );
    });

    it("still delivers only new messages when no position is given", async () => {
      const subject = "resume-none";
      await publishMany(client, subject, 3);
      const stream = client.subscribe({ subject }, { onHeader: () => void publishMany(client, subject, 1, 3) });
      for await (const message of stream) {
        assert.equal(message.id, 4n);
        break;
      }
    });
  });
}

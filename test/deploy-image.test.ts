import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { loadConfig } from "../gateway/src/config.js";
import { brokerClient } from "./support/clients.js";
import { DEPLOY } from "./support/deploy.js";
import { eventually, freePort, ROOT } from "./support/node-process.js";
import { OtlpReceiver } from "./support/otlp-receiver.js";
import { bytes } from "./support/streams.js";

/**
 * No Docker engine runs here, so the image is not built. What can be checked
 * without one is: the Dockerfile's instructions, and that its build command,
 * ENTRYPOINT + CMD and HEALTHCHECK work as written on the compiled output.
 */
const run = promisify(execFile);
const defaults = loadConfig({});

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

function parseDockerfile(text: string): Instruction[] {
  const logical = text.replace(/\\\n/g, " ").split("\n");
  return logical
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const [keyword, ...rest] = line.split(/\s+/);
      return { keyword: (keyword as string).toUpperCase(), args: rest.join(" ") };
    });
}

const dockerfile = parseDockerfile(readFileSync(path.join(DEPLOY, "Dockerfile"), "utf8"));
const all = (keyword: string) => dockerfile.filter((i) => i.keyword === keyword).map((i) => i.args);
const last = (keyword: string) => all(keyword).at(-1) as string;
const execForm = (args: string) => JSON.parse(args) as string[];

describe("deploy/Dockerfile", () => {
  it("is multi-stage on Node's current LTS (24)", () => {
    const args = Object.fromEntries(all("ARG").map((a) => a.split("=") as [string, string]));
    const stages = all("FROM").map((from) => from.replace(/\$\{(\w+)\}/g, (_, name: string) => args[name] ?? ""));
    assert.equal(stages.length, 2);
    for (const stage of stages) assert.match(stage, /^node:24[-\w]* AS \w+$/);
  });

  it("runs as the image's unprivileged user and exposes the gateway's real ports", () => {
    assert.equal(last("USER"), "node");
    assert.deepEqual(last("EXPOSE").split(" ").map(Number), [
      defaults.grpcPort,
      defaults.httpPort,
      defaults.metricsPort,
    ]);
  });

  describe("its commands, run on the compiled output", () => {
    const entrypoint = execForm(last("ENTRYPOINT"));
    const cmd = execForm(last("CMD"));
    const healthcheck = execForm(last("HEALTHCHECK").replace(/^.*?CMD\s+/, ""));
    const receiver = new OtlpReceiver();
    let gateway: ReturnType<typeof spawn>;
    let httpPort: number;
    let grpcPort: number;

    const healthcheckExit = async (): Promise<number> => {
      const [binary, ...args] = healthcheck;
      assert.equal(binary, "node");
      try {
        await run(process.execPath, args, { cwd: ROOT, env: { ...process.env, HTTP_PORT: String(httpPort) } });
        return 0;
      } catch (err) {
        return (err as { code: number }).code;
      }
    };

    before(async () => {
      // The Dockerfile's build step.
      assert.match(last("RUN"), /npm run build/);
      await run("npm", ["run", "build", "--silent"], { cwd: ROOT });
      const otlpPort = await receiver.listen();
      httpPort = await freePort();
      grpcPort = await freePort();
      const [binary, ...args] = [...entrypoint, ...cmd];
      assert.equal(binary, "node");
      gateway = spawn(process.execPath, args, {
        cwd: ROOT,
        stdio: "ignore",
        env: {
          ...process.env,
          HOST: "127.0.0.1",
          GRPC_PORT: String(grpcPort),
          HTTP_PORT: String(httpPort),
          METRICS_PORT: String(await freePort()),
          REDIS_URL: "",
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${otlpPort}`,
          OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
          OTEL_BSP_SCHEDULE_DELAY: "50",
        },
      });
    });
    after(async () => {
      if (gateway.exitCode === null) {
        const exited = new Promise((resolve) => gateway.once("exit", resolve));
        gateway.kill("SIGKILL");
        await exited;
      }
      await receiver.close();
    });

    it("ENTRYPOINT + CMD start the gateway and HEALTHCHECK passes", async () => {
      await eventually("the HEALTHCHECK to pass", async () => ((await healthcheckExit()) === 0 ? true : undefined));
    });

    it("the ENTRYPOINT's --import starts tracing from the compiled register file", async () => {
      const client = brokerClient({ grpcPort, httpPort }, "grpc");
      await client.publish({ subject: "image", body: bytes("x"), expirationSeconds: 0 });
      const span = await eventually("a Publish span", () =>
        receiver.spans.find((s) => s.name === "broker.Broker/Publish"),
      );
      assert.equal(span.service, "broker-gateway");
    });

    it("HEALTHCHECK fails once the gateway has stopped", async () => {
      const exited = new Promise((resolve) => gateway.once("exit", resolve));
      gateway.kill("SIGTERM");
      assert.equal(await exited, 0);
      assert.equal(await healthcheckExit(), 1);
    });
  });
});

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { loadConfig } from "../gateway/src/config.js";
import { DEPLOY, parseYamlStream, readYaml, type Yaml } from "./support/deploy.js";

const run = promisify(execFile);
const OVERLAYS = ["dev", "production"] as const;
const defaults = loadConfig({});

/** Renders an overlay with kubectl's built-in kustomize (offline, no cluster needed). */
async function render(overlay: string): Promise<Yaml[]> {
  const { stdout } = await run("kubectl", ["kustomize", `k8s/overlays/${overlay}`], {
    cwd: DEPLOY,
    maxBuffer: 16 * 1024 * 1024,
  });
  return parseYamlStream(stdout);
}

/** Validates one object against the Kubernetes OpenAPI schema of its apiVersion and kind (kubernetes-models). */
async function validate(object: Yaml): Promise<void> {
  if (object.kind === "Secret" && object.data) {
    // kustomize wraps long base64 values over lines; the API server's decoder (Go's) skips
    // newlines, the schema's "byte" format does not.
    object = {
      ...object,
      data: Object.fromEntries(
        Object.entries(object.data as Record<string, string>).map(([k, v]) => [k, v.replace(/\s+/g, "")]),
      ),
    };
  }
  const module = await import(`kubernetes-models/${object.apiVersion}/${object.kind}`);
  const Model = module[object.kind];
  assert.ok(Model, `kubernetes-models knows ${object.apiVersion} ${object.kind}`);
  new Model(object).validate();
}

const find = (objects: Yaml[], kind: string, name: string) => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  assert.ok(found, `${kind} ${name}`);
  return found;
};

const selects = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([key, value]) => labels[key] === value);

describe("the schema validator", () => {
  it("rejects an invalid manifest (so passing means something)", async () => {
    const broken = readYaml("k8s/base/gateway-deployment.yaml");
    broken.spec.replicas = "two";
    await assert.rejects(validate(broken));
  });
});

for (const overlay of OVERLAYS) {
  describe(`the ${overlay} overlay, rendered by kustomize`, async () => {
    const objects = await render(overlay);
    const gateway = find(objects, "Deployment", "broker-gateway");
    const archiver = find(objects, "Deployment", "broker-archiver");
    const pod = gateway.spec.template.spec;
    const container = pod.containers[0];
    const configMap = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name.startsWith("broker-config"));
    const secret = objects.find((o) => o.kind === "Secret" && o.metadata.name.startsWith("broker-secrets"));
    /** Secrets the overlay references but does not contain (the operator creates them): a stand-in value. */
    const referenced = Object.fromEntries(
      (container.env ?? [])
        .filter((e: Yaml) => e.valueFrom?.secretKeyRef)
        .map((e: Yaml) => [e.name, "stand-in-for-a-secret-of-at-least-32-bytes"]),
    );
    const env = {
      ...configMap.data,
      ...Object.fromEntries(
        Object.entries(secret.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, "base64").toString()]),
      ),
      ...referenced,
    };

    it("validates every object against the Kubernetes schemas", async () => {
      assert.ok(objects.length >= 8);
      for (const object of objects) await validate(object);
    });

    it("configures the gateway through a ConfigMap and Secret its config loader accepts, Redis and PostgreSQL included", () => {
      const config = loadConfig(env);
      assert.equal(config.grpcPort, defaults.grpcPort);
      assert.equal(config.httpPort, defaults.httpPort);
      assert.equal(config.metricsPort, defaults.metricsPort);
      assert.match(env.REDIS_URL, /^redis:\/\//);
      assert.match(env.DATABASE_URL, /^postgres:\/\//);
      for (const deployment of [gateway, archiver]) {
        const refs = deployment.spec.template.spec.containers[0].envFrom;
        assert.deepEqual(
          refs.map((r: Yaml) => r.configMapRef?.name ?? r.secretRef?.name),
          [configMap.metadata.name, secret.metadata.name],
        );
      }
    });

    it("exposes the gateway's real ports and probes them where the gateway answers", () => {
      const ports = Object.fromEntries(container.ports.map((p: Yaml) => [p.name, p.containerPort]));
      assert.deepEqual(ports, { grpc: defaults.grpcPort, http: defaults.httpPort, metrics: defaults.metricsPort });
      assert.deepEqual(container.readinessProbe.httpGet, { path: "/readyz", port: "http" });
      assert.deepEqual(container.startupProbe.httpGet, { path: "/healthz", port: "http" });
      // Liveness never follows Redis: an outage must not restart every pod.
      assert.deepEqual(container.livenessProbe.httpGet, { path: "/healthz", port: "http" });
      assert.ok(container.resources.requests.cpu && container.resources.limits.memory);
    });

    it("gives the pod longer to terminate than preStop plus the drain", () => {
      const preStopSeconds = Number(container.lifecycle.preStop.exec.command[1]);
      const config = loadConfig(env);
      const needMs = preStopSeconds * 1000 + config.drainDelayMs + config.shutdownTimeoutMs;
      assert.ok(
        pod.terminationGracePeriodSeconds * 1000 > needMs,
        `${pod.terminationGracePeriodSeconds}s > ${needMs}ms`,
      );
      assert.ok(archiver.spec.template.spec.terminationGracePeriodSeconds > 0);
    });

    it("runs as a non-root user with a read-only root filesystem", () => {
      for (const deployment of [gateway, archiver]) {
        const spec = deployment.spec.template.spec;
        assert.equal(spec.securityContext.runAsNonRoot, true);
        assert.equal(spec.containers[0].securityContext.readOnlyRootFilesystem, true);
      }
    });

    it("autoscales and protects the gateway, and its Service selects its pods on named ports", () => {
      const labels = gateway.spec.template.metadata.labels;
      const hpa = find(objects, "HorizontalPodAutoscaler", "broker-gateway");
      assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: "apps/v1", kind: "Deployment", name: "broker-gateway" });
      assert.ok(hpa.spec.minReplicas >= 1 && hpa.spec.maxReplicas >= hpa.spec.minReplicas);
      assert.ok(selects(find(objects, "PodDisruptionBudget", "broker-gateway").spec.selector.matchLabels, labels));
      const service = find(objects, "Service", "broker-gateway");
      assert.ok(selects(service.spec.selector, labels));
      const named = new Set(container.ports.map((p: Yaml) => p.name));
      for (const port of service.spec.ports) assert.ok(named.has(port.targetPort), `targetPort ${port.targetPort}`);
    });

    it("annotates both pods for Prometheus on the metrics port", () => {
      for (const deployment of [gateway, archiver]) {
        const annotations = deployment.spec.template.metadata.annotations;
        assert.equal(annotations["prometheus.io/scrape"], "true");
        assert.equal(Number(annotations["prometheus.io/port"]), defaults.metricsPort);
        assert.equal(annotations["prometheus.io/path"], "/metrics");
      }
    });

    it("runs the archiver from the same image with its own entry point", () => {
      const archiverContainer = archiver.spec.template.spec.containers[0];
      assert.equal(archiverContainer.image, container.image);
      assert.deepEqual(archiverContainer.args, ["dist/archiver/src/main.js"]);
    });

    if (overlay === "production") {
      it("runs with authentication on, its key from a Secret reference that is not committed", () => {
        const config = loadConfig(env);
        assert.ok(config.auth, "auth is on");
        assert.equal(config.auth.key.source, "AUTH_JWT_SECRET");
        assert.deepEqual(config.auth.audience, ["broker-gateway"]);
        const reference = container.env.find((e: Yaml) => e.name === "AUTH_JWT_SECRET").valueFrom.secretKeyRef;
        assert.deepEqual(reference, { name: "broker-auth", key: "jwt-secret" });
        assert.ok(
          !objects.some((o) => o.kind === "Secret" && o.metadata.name.startsWith("broker-auth")),
          "the auth secret is rendered from the repository",
        );
        assert.equal(
          Object.keys(configMap.data).filter((name) => /^AUTH_JWT_(SECRET|PUBLIC_KEY)$|^AUTH_JWKS_URL$/.test(name))
            .length,
          0,
          "a second key source in the ConfigMap would stop the gateway",
        );
      });
    }

    if (overlay === "dev") {
      it("runs Redis with its append-only file on, and PostgreSQL, behind the Services the URLs name", () => {
        const redis = find(objects, "StatefulSet", "redis").spec.template.spec.containers[0];
        assert.equal(redis.args[redis.args.indexOf("--appendonly") + 1], "yes");
        find(objects, "StatefulSet", "postgres");
        assert.equal(new URL(env.REDIS_URL).hostname, find(objects, "Service", "redis").metadata.name);
        assert.equal(new URL(env.DATABASE_URL).hostname, find(objects, "Service", "postgres").metadata.name);
      });
    }
  });
}

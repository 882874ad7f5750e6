/**
 * Load before the archiver: `node --import ./dist/archiver/src/register-tracing.js dist/archiver/src/main.js`
 * (`npm run archiver` does). The gateway's register file, with the service
 * named `broker-archiver` unless OTEL_SERVICE_NAME says otherwise. The
 * container image loads the gateway's file for both processes; compose and
 * Kubernetes set OTEL_SERVICE_NAME=broker-archiver for the archiver.
 */
import { tracingEnabled } from "../../gateway/src/process/tracing-env.js";

if (tracingEnabled()) process.env.OTEL_SERVICE_NAME ||= "broker-archiver";
// Imported after the line above (a static import would run first).
await import("../../gateway/src/process/register-tracing.js");

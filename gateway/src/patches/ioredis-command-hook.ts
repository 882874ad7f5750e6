import type { Command, Redis } from "ioredis";

/**
 * Patch: ioredis 6.0.0, undocumented behaviour: every command a connection
 * sends (direct, pipelined, auto-pipelined, scripts) passes through that
 * instance's sendCommand (Pipeline.exec calls redis.sendCommand per command).
 *
 * ioredis has no command hook; replacing sendCommand on the instance is how
 * the gateway times each Redis command and counts its failures
 * (broker_redis_command_* metrics), as @opentelemetry/instrumentation-ioredis
 * does on the prototype. Not a speed patch, and no public path gives those
 * metrics, so GATEWAY_PATCHES=off leaves it on. Shape test: test/patches.test.ts.
 */
export function observeCommands(connection: Redis, observe: (command: Command) => void): void {
  const send = connection.sendCommand.bind(connection);
  connection.sendCommand = (command, stream) => {
    observe(command);
    return send(command, stream);
  };
}

/**
 * Reading settings from the environment, shared by the gateway's and the
 * archiver's config loaders so both accept and refuse values the same way.
 */
export type Env = Record<string, string | undefined>;

/** A setting that is present but unusable; main.ts prints its message alone. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** An integer setting of at least `min`; unset or empty: `fallback`. */
export function integer(env: Env, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) {
    throw new ConfigError(`${name} must be an integer >= ${min}, got '${raw}'`);
  }
  return value;
}

/** An on/off setting (also true/false, 1/0, yes/no); unset or empty: `fallback`. */
export function onOff(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === "") return fallback;
  if (["on", "true", "1", "yes"].includes(raw)) return true;
  if (["off", "false", "0", "no"].includes(raw)) return false;
  throw new ConfigError(`${name} must be 'on' or 'off', got '${env[name]}'`);
}

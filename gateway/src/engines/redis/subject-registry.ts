/**
 * The Redis set of every subject that has a stream, kept by the gateway when
 * it creates a stream (the rare slow path of a publish) and read by the
 * archiver, so the archiver finds new subjects without scanning all keys.
 *
 * The key is the key prefix with its last character replaced by "|subjects",
 * e.g. "broker:stream|subjects" for the prefix "broker:stream:": it does not
 * start with the prefix, so no subject's stream key can ever equal it.
 * (On Redis Cluster the create script touches this key and the stream key, so
 * a cluster deployment would need both in one hash slot; not supported yet.)
 */
export function subjectRegistryKey(keyPrefix: string): string {
  if (keyPrefix.length === 0) return "broker|subjects";
  return `${keyPrefix.slice(0, -1)}${keyPrefix.endsWith("|") ? "!" : "|"}subjects`;
}

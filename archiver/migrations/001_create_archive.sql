-- The archive of every message that can still be fetched. Written only by the
-- archiver, read by the gateways (gateway/src/engines/archive/archive-store.ts).
--
-- Times are epoch milliseconds in bigint, exactly as the gateway stores them in
-- Redis (no rounding through timestamptz conversions).
--
-- One plain table, not time partitions: Fetch looks rows up by (subject, id),
-- which cannot prune partitions by expiry, and expirations range from seconds to
-- 68 years, so partitions by expiry would be many and every lookup would probe
-- each one. Expired rows leave by small batched deletes instead (see
-- archiver/src/retention.ts); autovacuum is tuned below so the space they free is
-- reused soon and the table does not bloat under steady load.
CREATE TABLE broker_messages (
  subject      text   NOT NULL,
  id           bigint NOT NULL,
  body         bytea  NOT NULL,
  published_at bigint NOT NULL,
  expires_at   bigint NOT NULL,
  PRIMARY KEY (subject, id)
) WITH (
  autovacuum_vacuum_scale_factor = 0.02,
  autovacuum_vacuum_insert_scale_factor = 0.05
);

-- The retention sweep finds expired rows through this index.
CREATE INDEX broker_messages_expires_at ON broker_messages (expires_at);

-- Per subject, every id up to archived_through has been copied (or skipped on
-- purpose: fire-and-forget, already expired). Updated in the same transaction as
-- the rows it covers, so a crash never loses or repeats a copy; the row lock on
-- it is what keeps two archivers off the same subject at the same time.
CREATE TABLE broker_archive_progress (
  subject          text   PRIMARY KEY,
  archived_through bigint NOT NULL DEFAULT 0
);

-- Ids Redis trimmed before the archiver could copy them (an outage longer than
-- the hot store's limit). Readers report them as a gap instead of skipping them.
CREATE TABLE broker_archive_gaps (
  subject     text   NOT NULL,
  from_id     bigint NOT NULL,
  to_id       bigint NOT NULL,
  detected_at bigint NOT NULL,
  PRIMARY KEY (subject, from_id)
);

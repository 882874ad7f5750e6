import pg from "pg";
import type { Log } from "../../core/log.js";
import type { StoredMessage } from "../../core/message.js";
import {
  LOOKUP_SQL,
  LOOKUP_STATEMENT,
  type LookupRow,
  PointLookup,
  pointLookupPatch,
} from "../../patches/pg-point-lookup.js";
import { defaultLogger } from "../../process/logger.js";
import { StorageErrors } from "../storage-errors.js";
import { PgConnections } from "./pg-connections.js";
import { classifyPgError } from "./pg-errors.js";

/**
 * Read access to the PostgreSQL archive the archiver process writes
 * (archiver/migrations holds the schema; the gateway never writes to it).
 */
export interface ArchiveStoreOptions {
  readonly url: string;
  /** Connections per gateway process. */
  readonly maxConnections: number;
  /** Connecting or a query taking longer fails (UNAVAILABLE) instead of hanging a Fetch. */
  readonly timeoutMs: number;
  /** Where archive failures are logged (default: the process logger). */
  readonly log?: Log;
}

export const DEFAULT_ARCHIVE_STORE_OPTIONS: Omit<ArchiveStoreOptions, "url"> = {
  maxConnections: 8,
  timeoutMs: 2_000,
};

/** What the archive holds right after a position (see ArchiveBackedEngine.readAfter). */
export interface ArchiveRange {
  /** Archived messages with afterId < id < beforeId, in id order. */
  readonly messages: StoredMessage[];
  /** Every id up to this one was either archived or deliberately skipped (fire-and-forget, expired). */
  readonly archivedThrough: number;
  /** True when ids in the range the messages cover were lost (trimmed from Redis before archiving). */
  readonly lost: boolean;
}

/** bytea's text form, hex or (bytea_output = escape) escaped, as pg reads it. */
const parseBytea = pg.types.getTypeParser(pg.types.builtins.BYTEA, "text") as (text: string) => Buffer;

/** SQLSTATE undefined_table: the archiver has not created the schema yet, so the archive is empty. */
const UNDEFINED_TABLE = "42P01";

interface MessageRow {
  id: string;
  body: Buffer;
  published_at: string;
  expires_at: string;
}

export class ArchiveStore {
  private readonly connections: PgConnections;
  private readonly errors: StorageErrors;
  /** Fetch's lookup through the pg-point-lookup patch, or pg's own query path. */
  private readonly lookupPatched = pointLookupPatch();

  constructor(options: ArchiveStoreOptions) {
    this.errors = new StorageErrors("archive", classifyPgError, options.log ?? defaultLogger());
    this.connections = new PgConnections({
      url: options.url,
      max: options.maxConnections,
      timeoutMs: options.timeoutMs,
      applicationName: "broker-gateway",
    });
  }

  /** The archive's hot read (Fetch of an id Redis has trimmed). */
  get(subject: string, id: number): Promise<StoredMessage | undefined> {
    return this.errors.guard(this.lookUp(subject, id), "archive get", subject);
  }

  private async lookUp(subject: string, id: number): Promise<StoredMessage | undefined> {
    if (!this.lookupPatched) {
      const [row] = await this.rows<Omit<MessageRow, "id">>(LOOKUP_STATEMENT, LOOKUP_SQL, [subject, id]);
      return row && toMessage(subject, { ...row, id: String(id) });
    }
    const row = await this.run(
      (client) =>
        new Promise<LookupRow | undefined>((resolve, reject) => {
          client.query(new PointLookup(subject, id, (err, found) => (err ? reject(err) : resolve(found))));
        }),
      undefined,
    );
    if (!row) return undefined;
    return {
      id,
      subject,
      body: parseBytea(row.body),
      publishedAt: Number(row.publishedAt),
      expiresAt: Number(row.expiresAt),
    };
  }

  /**
   * The highest id the archiver has processed on the subject (0 when none):
   * an id that was assigned, so every later id must be greater.
   */
  lastId(subject: string): Promise<number> {
    return this.errors.guard(this.archivedThrough(subject), "archive lastId", subject);
  }

  private async archivedThrough(subject: string): Promise<number> {
    const rows = await this.rows<{ archived_through: string }>(
      "archive-last-id",
      "SELECT archived_through FROM broker_archive_progress WHERE subject = $1",
      [subject],
    );
    return rows[0] ? Number(rows[0].archived_through) : 0;
  }

  readRange(subject: string, afterId: number, beforeId: number, limit: number): Promise<ArchiveRange> {
    return this.errors.guard(this.range(subject, afterId, beforeId, limit), "archive readRange", subject);
  }

  private async range(subject: string, afterId: number, beforeId: number, limit: number): Promise<ArchiveRange> {
    const messages = (
      await this.rows<MessageRow>(
        "archive-range",
        `SELECT id, body, published_at, expires_at FROM broker_messages
         WHERE subject = $1 AND id > $2 AND id < $3 ORDER BY id LIMIT $4`,
        [subject, afterId, beforeId, limit],
      )
    ).map((row) => toMessage(subject, row));
    // The ids a reader would step over: up to the last message returned, or
    // the whole range when none was.
    const coveredTo = messages.length === limit ? (messages[messages.length - 1] as StoredMessage).id : beforeId - 1;
    const state = await this.rows<{ archived_through: string | null; lost: boolean }>(
      "archive-range-state",
      `SELECT (SELECT archived_through FROM broker_archive_progress WHERE subject = $1) AS archived_through,
              EXISTS (SELECT 1 FROM broker_archive_gaps
                      WHERE subject = $1 AND from_id <= $3 AND to_id > $2) AS lost`,
      [subject, afterId, coveredTo],
    );
    const row = state[0];
    return {
      messages,
      archivedThrough: row?.archived_through ? Number(row.archived_through) : 0,
      lost: row?.lost ?? false,
    };
  }

  async close(): Promise<void> {
    await this.connections.close();
  }

  /** Named, so each connection parses and plans a query once. */
  private async rows<Row extends pg.QueryResultRow>(name: string, text: string, values: unknown[]): Promise<Row[]> {
    return this.run(async (client) => (await client.query<Row>({ name, text, values })).rows, []);
  }

  /** Runs `use` on a connection; before the archiver has created the schema the archive is empty (`empty`). */
  private async run<T>(use: (client: pg.Client) => Promise<T>, empty: T): Promise<T> {
    try {
      return await this.connections.run(use);
    } catch (err) {
      if ((err as { code?: string }).code === UNDEFINED_TABLE) return empty;
      throw err;
    }
  }
}

function toMessage(subject: string, row: MessageRow): StoredMessage {
  return {
    id: Number(row.id),
    subject,
    body: row.body,
    publishedAt: Number(row.published_at),
    expiresAt: Number(row.expires_at),
  };
}

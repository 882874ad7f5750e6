import { SpanStatusCode, trace } from "@opentelemetry/api";

/**
 * One span per copy batch (`archiver.batch`), made active while the batch
 * runs so the pg and ioredis instrumentations (which only trace commands
 * with a parent span) record its statements as children. Built only when
 * OTEL_* asks for traces: without it the copier calls the batch directly.
 */
export class BatchTracer {
  private readonly tracer = trace.getTracer("broker-archiver");

  batch<T>(subjects: number, copy: () => Promise<T>, entriesRead: (result: T) => number): Promise<T> {
    return this.tracer.startActiveSpan("archiver.batch", { attributes: { "archiver.subjects": subjects } }, (span) =>
      copy().then(
        (result) => {
          span.setAttribute("archiver.entries_read", entriesRead(result));
          span.end();
          return result;
        },
        (err: unknown) => {
          span.recordException(err instanceof Error ? err : String(err));
          span.setStatus({ code: SpanStatusCode.ERROR, message: String(err) });
          span.end();
          throw err;
        },
      ),
    );
  }
}

/// Told how far a long job has come: `done` of `total` units (bytes, or steps). Calls are
/// monotone (`done` never decreases), `done <= total`, and the last call of a job that
/// completes has `done == total`. Jobs call it from their own loops, once per batch, chunk or
/// step (never per byte), on the thread that started the job. Drawing is the caller's
/// business: the libraries only count.
public typealias ProgressHandler = @Sendable (_ done: Int, _ total: Int) -> Void

import CZstd
import LatteSystem

/// zstd, one frame per chunk or plane, through the advanced parameter API.
enum Zstd {
    /// Parameters of one compression.
    struct Parameters: Sendable, Equatable {
        var level: Int32
        /// A strategy override (`ZSTD_fast` = 1 …), or nil for the level's.
        var strategy: Int32? = nil
        var minMatch: Int32? = nil
    }

    /// Compresses `src` into one frame that records its content size. Returns nil when the
    /// frame would not be smaller than the input (the caller then stores the bytes raw).
    static func compress(_ src: UnsafeRawBufferPointer, _ p: Parameters) -> [UInt8]? {
        guard let cctx = ZSTD_createCCtx() else { return nil }
        defer { ZSTD_freeCCtx(cctx) }
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, p.level)
        if let s = p.strategy { ZSTD_CCtx_setParameter(cctx, ZSTD_c_strategy, s) }
        if let m = p.minMatch { ZSTD_CCtx_setParameter(cctx, ZSTD_c_minMatch, m) }
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 0)
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1)
        ZSTD_CCtx_setPledgedSrcSize(cctx, UInt64(src.count))
        let cap = ZSTD_compressBound(src.count)
        var out = [UInt8](repeating: 0, count: cap)
        let n = out.withUnsafeMutableBytes { dst in
            ZSTD_compress2(cctx, dst.baseAddress, cap, src.baseAddress, src.count)
        }
        guard ZSTD_isError(n) == 0, n < src.count else { return nil }
        out.removeLast(cap - n)
        return out
    }

    /// Why a zstd frame was refused.
    enum DecodeError: Error { case notOneFrame, sizeMismatch(declared: UInt64), failed(String) }

    /// Decompresses one frame that must produce exactly `dst.count` bytes.
    static func decompress(_ src: UnsafeRawBufferPointer, into dst: UnsafeMutableRawBufferPointer) throws(DecodeError) {
        guard src.count > 0 else { throw .notOneFrame }
        // The frame header's size is checked before any work: it must be the declared one.
        let size = ZSTD_getFrameContentSize(src.baseAddress, src.count)
        guard size == UInt64(dst.count) else { throw .sizeMismatch(declared: size) }
        let frame = ZSTD_findFrameCompressedSize(src.baseAddress, src.count)
        guard ZSTD_isError(frame) == 0, frame == src.count else { throw .notOneFrame }
        guard let dctx = threadContext() else { throw .failed("out of memory") }
        // Each call decodes a whole frame from its start: a context left mid-frame by an
        // error is reset here, so nothing carries over between frames.
        let n = ZSTD_decompressDCtx(dctx, dst.baseAddress, dst.count, src.baseAddress, src.count)
        if ZSTD_isError(n) != 0 { throw .failed(String(cString: ZSTD_getErrorName(n))) }
        guard n == dst.count else { throw .sizeMismatch(declared: UInt64(n)) }
    }

    /// The calling thread's decompression context, made on first use and freed when the
    /// thread ends. Why not one per frame: small tensors are a zstd frame each, and making a
    /// context per frame was 32 % of reading a file of 4,000 8 KiB tensors (27–31 % slower).
    private static func threadContext() -> OpaquePointer? {
        if let p = pthread_getspecific(contextKey) { return OpaquePointer(p) }
        guard let dctx = ZSTD_createDCtx() else { return nil }
        pthread_setspecific(contextKey, UnsafeRawPointer(dctx))
        return dctx
    }
}

/// The pthread key of each thread's `ZSTD_DCtx` (`Zstd.threadContext`).
private let contextKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key) { ZSTD_freeDCtx(OpaquePointer($0)) }
    return key
}()

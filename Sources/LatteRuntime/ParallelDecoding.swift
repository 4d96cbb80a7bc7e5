import Dispatch
import LatteCore
import LatteSystem

/// Decoding a large tensor to float32 on every core: its elements cut into one contiguous
/// piece per core, each piece mapped in (`populate`, when it is a file map) and widened by
/// one thread, so reading a weight runs at the speed of memory rather than of one core's
/// page faults and conversion loop.
enum ParallelDecoding {
    /// Below this many elements a tensor is decoded on the calling thread: splitting costs
    /// more than it saves (a few tens of microseconds a piece).
    static let minPieceElements = 1 << 18

    /// `FloatDecoding.decode` of `raw` into `destination`, in pieces on up to `threads`
    /// threads. `mapped`: `raw` lies in a file map, whose pages each piece maps in first.
    static func decode(_ raw: UnsafeRawBufferPointer, dtype: DType, count: Int, into destination: UnsafeMutablePointer<Float>,
                       tensor: String, mapped: Bool, threads: Int = SystemInfo.onlineCores) throws {
        let pieces = min(max(threads, 1), count / minPieceElements)
        guard pieces > 1, let width = dtype.byteWidth, raw.count == count * width else {
            if mapped { advise(raw, .populate) }
            return try FloatDecoding.decode(raw, dtype: dtype, count: count, into: destination, tensor: tensor)
        }
        let per = (count + pieces - 1) / pieces
        let job = PieceJob(raw: raw, destination: destination)
        let failure = HeapMutex<(any Error)?>(nil)
        DispatchQueue.concurrentPerform(iterations: pieces) { i in
            let lo = i * per, hi = min(count, lo + per)
            guard lo < hi else { return }
            let slice = UnsafeRawBufferPointer(rebasing: job.raw[lo * width ..< hi * width])
            if mapped { advise(slice, .populate) }
            do {
                try FloatDecoding.decode(slice, dtype: dtype, count: hi - lo, into: job.destination + lo, tensor: tensor)
            } catch {
                failure.withLock { $0 = $0 ?? error }
            }
        }
        if let e = failure.withLock({ $0 }) { throw e }
    }
}

/// The pointers one parallel decode shares with its threads.
///
/// Unchecked Sendable: the pointers never change; each thread reads its own slice of `raw`
/// and writes its own disjoint range of `destination`, and the caller reads neither until
/// `concurrentPerform` (or, for a stream, the stream) has returned.
final class PieceJob: @unchecked Sendable {
    let raw: UnsafeRawBufferPointer
    let destination: UnsafeMutablePointer<Float>

    init(raw: UnsafeRawBufferPointer, destination: UnsafeMutablePointer<Float>) {
        self.raw = raw
        self.destination = destination
    }
}

/// Where each tensor of a streamed group goes: its dtype, element count and float32
/// destination, by name.
///
/// Unchecked Sendable: immutable after init; decoding threads write disjoint element ranges
/// (a chunk's) of the destinations, which the caller reads only after the stream returned.
final class StreamTargets: @unchecked Sendable {
    struct Target {
        let dtype: DType
        let width: Int
        let count: Int
        let destination: UnsafeMutablePointer<Float>
    }

    let byName: [String: Target]

    init(_ byName: [String: Target]) { self.byName = byName }

    /// Widens one decoded chunk (byte `offset` of tensor `name`) into its destination.
    /// Returns the bytes written: 0 for a tensor not asked for, or a chunk that does not hold
    /// whole elements inside the tensor (a file cut that way is read whole afterwards).
    func write(_ name: String, _ offset: Int, _ bytes: UnsafeRawBufferPointer) throws -> Int {
        guard let t = byName[name], offset >= 0, offset % t.width == 0, bytes.count % t.width == 0,
              offset / t.width + bytes.count / t.width <= t.count else { return 0 }
        try FloatDecoding.decode(bytes, dtype: t.dtype, count: bytes.count / t.width, into: t.destination + offset / t.width,
                                 tensor: name)
        return bytes.count
    }
}

/// Where the rows of a streamed tensor go (`readRows`): row `rows[i]` to element
/// `i × rowLength` of the destination. A row may be asked for more than once.
///
/// Unchecked Sendable: immutable after init but for `misaligned`, behind its lock; decoding
/// threads write disjoint ranges (a chunk's part of a row, for each place that row goes),
/// which the caller reads only after the stream returned.
final class RowTargets: @unchecked Sendable {
    private let places: [Int: [Int]]
    private let tensor: String
    private let rowLength: Int
    private let dtype: DType
    private let width: Int
    private let destination: UnsafeMutablePointer<Float>
    private let misaligned = HeapMutex(false)

    init(_ tensor: String, rows: [Int], rowLength: Int, dtype: DType, width: Int, destination: UnsafeMutablePointer<Float>) {
        self.tensor = tensor
        var places: [Int: [Int]] = [:]
        for (i, r) in rows.enumerated() { places[r, default: []].append(i) }
        self.places = places
        self.rowLength = rowLength
        self.dtype = dtype
        self.width = width
        self.destination = destination
    }

    /// Whether every chunk held whole elements (else the rows are read from a whole copy).
    var complete: Bool { !misaligned.withLock { $0 } }

    /// Widens the parts of asked-for rows that chunk `bytes` (at byte `offset`) holds.
    func write(_ offset: Int, _ bytes: UnsafeRawBufferPointer) throws {
        let rowBytes = rowLength * width
        guard !bytes.isEmpty else { return }
        guard offset % width == 0, bytes.count % width == 0 else {
            misaligned.withLock { $0 = true }
            return
        }
        for r in offset / rowBytes ... (offset + bytes.count - 1) / rowBytes {
            guard let at = places[r] else { continue }
            let lo = max(offset, r * rowBytes), hi = min(offset + bytes.count, (r + 1) * rowBytes)
            let part = UnsafeRawBufferPointer(rebasing: bytes[lo - offset ..< hi - offset])
            for i in at {
                try FloatDecoding.decode(part, dtype: dtype, count: (hi - lo) / width,
                                         into: destination + i * rowLength + (lo - r * rowBytes) / width, tensor: tensor)
            }
        }
    }
}

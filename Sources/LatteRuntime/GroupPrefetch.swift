import Dispatch
import LatteSystem

/// One replica group being read on a background thread while the sampler runs the steps of
/// the group before it (`LatteModel.sample`, when the budget holds two groups).
///
/// Ownership is the safety argument: from `start` until `wait` returns, the background
/// thread is the only user of the weight source (the model waits for the prefetch before
/// any other read: a group change, a prefill, the end of a sampling) and of the buffers it
/// allocates; the ledger it reserves them in is thread-safe. `wait` orders the thread's
/// writes before the caller's reads (DispatchGroup).
final class GroupPrefetch: @unchecked Sendable { // see above: one user of the source and of `outcome` at a time
    let group: Int
    private let done = DispatchGroup()
    private var outcome: Result<[ReplicaWeights], any Error>?
    /// Seconds the background read took.
    private(set) var readSeconds: Double = 0
    private let load: Loader

    private var spare: [ReplicaWeights]?

    private init(group: Int, load: Loader, spare: [ReplicaWeights]?) {
        self.group = group
        self.load = load
        self.spare = spare
    }

    /// Starts reading group `group` (layers `layers`) through `loader` on a background thread.
    /// `spare`: a released group's layers to refill (ownership passes to the thread).
    static func start(group: Int, layers: Range<Int>, _ loader: Loader, reusing spare: [ReplicaWeights]?) -> GroupPrefetch {
        let p = GroupPrefetch(group: group, load: loader, spare: spare)
        DispatchQueue.global().async(group: p.done) {
            let start = monotonicSeconds()
            p.outcome = Result {
                try p.load.source.prepare(group: group)
                defer { p.load.source.finish(group: group) }
                let reuse = p.spare
                p.spare = nil
                return try ReplicaWeights.group(layers: layers, p.load, reusing: reuse)
            }
            p.readSeconds = monotonicSeconds() - start
        }
        return p
    }

    /// Waits for the read; its layers, or the error it met (thrown here, on the caller's thread).
    func wait() throws -> [ReplicaWeights] {
        done.wait()
        return try outcome!.get()
    }
}

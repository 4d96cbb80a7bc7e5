import Foundation
import Testing
import LatteCore
@testable import LatteReaders
import LatteTestSupport

/// Key paths from shared containers (issue 10, class 3): a DAG of a few bytes is refused by
/// the bounds set by its bytes, whichever reader it comes through; real sharing (tied
/// weights, one state dict under two names) keeps working.
@Suite struct TensorCollectorTests {
    /// A leaf, then DUP+TUPLE2 `levels` times: 2^levels paths in 2 bytes a level.
    func dag(_ leaf: [UInt8], _ levels: Int) -> [UInt8] {
        var p = P.proto() + leaf
        for _ in 0 ..< levels { p += [0x32, 0x86] }
        return p + [0x2E]
    }

    let oneFloat = [("0", f32Bytes([1]))]
    var tensor: [UInt8] { P.tensor("FloatStorage", key: "0", numel: 1, size: [1], stride: [1]) }

    func isPathBound(_ e: (any Error)?) -> Bool {
        switch e as? TorchReaderError {
        case .tooManyKeyPaths?, .keyPathsTooLong?: true
        default: false
        }
    }

    @Test func dagsAreRefusedByTheirBytes() {
        // The issue's 84 bytes: None under 2^40 paths; then tensors, and dict and list DAGs
        // through the memo.
        #expect(isPathBound(caught { _ = try readTorch(torchZip(dag([0x4E], 40))) }))
        #expect(isPathBound(caught { _ = try readTorch(torchZip(dag(tensor, 40), storages: oneFloat)) }))
        var dicts = P.proto() + tensor + [0x71, 0, 0x30]
        for k in 1 ... 40 {
            dicts += [0x7D, 0x28] + P.bu("a") + [0x68, UInt8(k - 1)] + P.bu("b") + [0x68, UInt8(k - 1), 0x75, 0x71, UInt8(k), 0x30]
        }
        dicts += [0x68, 40, 0x2E]
        #expect(isPathBound(caught { _ = try readTorch(torchZip(dicts, storages: oneFloat)) }))
        var lists = P.proto() + [0x4E, 0x71, 0, 0x30]
        for k in 1 ... 14 {
            lists += [0x5D, 0x28] + Array(repeating: [0x68, UInt8(k - 1)], count: 8).flatMap { $0 } + [0x65, 0x71, UInt8(k), 0x30]
        }
        lists += [0x68, 14, 0x2E]
        #expect(isPathBound(caught { _ = try readTorch(torchZip(lists)) }))
    }

    @Test func theErrorNamesTheFileAndTheBound() {
        let path = temporaryFile(torchZip(dag(tensor, 40), storages: oneFloat), name: "dag.pt")
        defer { unlink(path) }
        var message = ""
        do { _ = try CheckpointReader.open(path: path) } catch { message = String(describing: error) }
        #expect(message.hasPrefix(path + ": the pickled object"), "\(message)")
        #expect(message.contains("-byte pickle") && message.contains("(a DAG)"), "\(message)")
    }

    @Test func aDagWithoutLeavesIsWalkedOnce() throws {
        // 2^60 paths to empty tuples and nothing else, beside a real tensor: the empty DAG
        // costs its bytes, the tensor is read.
        var junk: [UInt8] = [0x29]
        for _ in 0 ..< 60 { junk += [0x32, 0x86] }
        let c = try readTorch(torchZip(P.dict([("w", tensor), ("junk", junk)]), storages: oneFloat))
        #expect(c.tensors.map(\.name) == ["w"] && c.skipped.isEmpty)
        // Empty lists and dicts shared the same way.
        var shared = P.proto() + [0x5D, 0x7D, 0x86]
        for _ in 0 ..< 60 { shared += [0x32, 0x86] }
        #expect(try readTorch(torchZip(shared + [0x2E])).tensors.isEmpty)
    }

    @Test func realSharingKeepsEveryName() throws {
        // {'model': sd, 'ema': sd} with sd memoized, plus a tensor tied under two names.
        let sd = [0x7D, 0x28] + P.bu("w") + tensor + [0x71, 1] + P.bu("tied") + [0x68, 1, 0x75, 0x71, 0]
        let pkl = P.dict([("model", sd), ("ema", [0x68, 0]), ("step", [0x4B, 7])])
        let c = try readTorch(torchZip(pkl, storages: oneFloat))
        #expect(c.tensors.map(\.name) == ["model.w", "model.tied", "ema.w", "ema.tied"])
        #expect(Set(c.tensors.map(\.storageKey)) == ["0"])
        #expect(c.skipped == ["step"])
    }

    @Test func theBoundsCountWhatThePickleUnfoldsInto() throws {
        // Given as values (no pickle), against the bounds set by the bytes claimed.
        // 100,000 leaves in one list: 100,001 paths of at most 5 bytes.
        let flat = PickleValue.list(PickleBox(items: [PickleValue](repeating: .none, count: 100_000)))
        #expect(throws: TorchReaderError.tooManyKeyPaths(limit: 65_536, pickleBytes: 0, perByte: 1, allowance: 65_536)) {
            _ = try TensorCollector.collect(flat, pickleBytes: 0)
        }
        #expect(try TensorCollector.collect(flat, pickleBytes: 40_000).skipped.count == 100_000)
        // A DAG of 17 levels: 2^17 leaves and 2^18 - 1 paths of up to 33 bytes, 8 MB in all.
        var v = PickleValue.none
        for _ in 0 ..< 17 { v = .tuple(PickleBox(items: [v, v])) }
        #expect(throws: TorchReaderError.keyPathsTooLong(limit: 16 * 140_000 + (1 << 20), pickleBytes: 140_000, perByte: 16, allowance: 1 << 20)) {
            _ = try TensorCollector.collect(v, pickleBytes: 140_000)
        }
        let c = try TensorCollector.collect(v, pickleBytes: 600_000)
        #expect(c.skipped.count == 131_072 && c.skipped.first == "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0")
    }

    @Test func cyclesAndDepthAreStillRefused() throws {
        // l = [t]; l.append(l): a cycle at 'l.1'.
        let cyclic = P.proto() + [0x7D] + P.bu("l") + [0x5D] + tensor + [0x61, 0x32, 0x61, 0x73, 0x2E]
        #expect(caught { _ = try readTorch(torchZip(cyclic, storages: oneFloat)) } as? TorchReaderError == .cyclicContainer(path: "l.1"))
        // 300 nested lists hold a tensor: too deep.
        let deep = P.proto() + tensor + [UInt8](repeating: 0x85, count: 300) + [0x2E]
        #expect(caught { _ = try readTorch(torchZip(deep, storages: oneFloat)) }.map { e in
            if case .nestingTooDeep? = e as? TorchReaderError { true } else { false }
        } == true)
        // A container first met at a shallow depth, then again deeper than the limit allows.
        // (X, ((...(X,)...),)): X is 200 levels deep, met first at depth 1, then at 101.
        var chain = P.proto() + tensor
        for _ in 0 ..< 200 { chain += [0x85] }
        chain += [0x71, 0, 0x30, 0x68, 0, 0x68, 0]
        for _ in 0 ..< 100 { chain += [0x85] }
        chain += [0x86, 0x2E]
        #expect(caught { _ = try readTorch(torchZip(chain, storages: oneFloat)) }.map { e in
            if case .nestingTooDeep? = e as? TorchReaderError { true } else { false }
        } == true)
    }

    @Test func setsAreLeaves() throws {
        let set = P.global("builtins", "set") + P.tuple([P.tuple([P.int(1), P.int(2)])]) + [0x52]
        let c = try readTorch(torchZip(P.dict([("w", tensor), ("tags", set)]), storages: oneFloat))
        #expect(c.tensors.map(\.name) == ["w"] && c.skipped == ["tags"])
    }

    @Test func legacyAndShardedDagsAreRefused() throws {
        // The legacy stream: the object pickle is the DAG.
        var legacy = P.proto() + [0x8A, 0x0A] + LegacyTorchFormat.magic + [0x2E]
        legacy += P.proto() + P.int(1001) + [0x2E]
        legacy += P.proto() + [0x7D, 0x2E]
        let pid = P.tuple([P.bu("storage"), P.global("torch", "FloatStorage"), P.bu("0"), P.bu("cpu"), P.int(1), [0x4E]])
        let t = P.global("torch._utils", "_rebuild_tensor_v2") + [0x28] + pid + [0x51] + P.int(0) + P.tuple([P.int(1)])
            + P.tuple([P.int(1)]) + [0x89] + P.global("collections", "OrderedDict") + [0x29, 0x52, 0x74, 0x52]
        legacy += dag(t, 40)
        legacy += P.proto() + [0x5D, 0x28] + P.bu("0") + [0x65, 0x2E] + [1, 0, 0, 0, 0, 0, 0, 0] + f32Bytes([1])
        #expect(isPathBound(caught { _ = try readTorch(legacy) }))

        // A pytorch_model.bin.index.json whose shard is a DAG: the error names the shard.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("latte-dag-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let shard = dir.appendingPathComponent("pytorch_model-00001-of-00001.bin").path
        FileManager.default.createFile(atPath: shard, contents: Data(torchZip(dag(tensor, 40), storages: oneFloat)))
        let index = dir.appendingPathComponent("pytorch_model.bin.index.json").path
        try #"{"weight_map": {"w": "pytorch_model-00001-of-00001.bin"}}"#.write(toFile: index, atomically: true, encoding: .utf8)
        do {
            _ = try CheckpointReader.open(path: index)
            Issue.record("accepted")
        } catch {
            #expect(String(describing: error).hasPrefix(shard + ": the pickled object"), "\(error)")
            #expect(isPathBound(underlying(error)))
        }
    }
}

import Testing
import LatteCore
@testable import LatteReaders

/// The PyTorch part of `fixtures/malformed/cases.json`: every file is refused through the
/// public entry point with its own specific error (and nothing crashes or hangs).
@Suite struct MalformedTorchTests {
    /// The specific error each PyTorch case must produce.
    static let expected: [String: @Sendable (any Error) -> Bool] = [
        "pt_global_os_system.pt": { ($0 as? PickleError) == .refusedGlobal(module: "os", name: "system") },
        "pt_stack_global_eval.pt": { ($0 as? PickleError) == .refusedGlobal(module: "builtins", name: "eval") },
        "pt_storage_too_large.pt": { ($0 as? TorchReaderError) == .storageTooLarge(key: "0", declaredBytes: 4000, recordBytes: 16) },
        "pt_truncated.pt": { ($0 as? ZipArchiveError) == .centralDirectoryNotFound },
        "pt_deflated_pkl.pt": { ($0 as? ZipArchiveError) == .compressedRecord(record: "archive/data.pkl", method: 8) },
        "pt_two_top_folders.pt": { ($0 as? ZipArchiveError) == .notOneTopFolder(first: "archive", other: "other") },
        "pt_bomb_nested.pt": { ($0 as? PickleError) == .nestingTooDeep(limit: 1000) },
        "pt_bomb_memo.pt": { ($0 as? PickleError) == .memoIndexTooLarge(index: 0xFFFF_FFF0, limit: 1 << 24) },
        "pt_bomb_long4.pt": {
            guard case .lengthExceedsInput(opcode: "LONG4", declared: 0x7FFF_FFF0, _, _)? = $0 as? PickleError else { return false }
            return true
        },
        "legacy_bad_magic.pt": { ($0 as? TorchReaderError) == .legacyBadMagic },
        "legacy_storage_overrun.pt": {
            guard case .legacyStorageOverrun(_, count: 1000, elementSize: 4, remaining: 16)? = $0 as? TorchReaderError else { return false }
            return true
        },
        "scripted.pt": { ($0 as? TorchReaderError) == .torchScriptArchive },
        "quantized.pt": { ($0 as? PickleError) == .quantizedTensor(global: "torch._utils._rebuild_qtensor") },
        "sparse.pt": { ($0 as? PickleError) == .sparseTensor(global: "torch._utils._rebuild_sparse_tensor") },
        "lfs_pointer/model.safetensors": { ($0 as? CheckpointDetectionError) == .gitLFSPointer },
    ]

    /// The cases of cases.json read by the PyTorch reader or by detection.
    static let cases: [String] = {
        guard let root = try? TorchFixtures.json(TorchFixtures.malformed + "cases.json"), let members = root.objectValue else { return [] }
        return members.compactMap { name, v in
            let reader = v["reader"]?.stringValue ?? ""
            return reader.hasPrefix("pytorch") || reader == "detect" ? name : nil
        }
    }()

    @Test func corpusIsPresentAndFullyCovered() {
        #expect(Self.cases.count >= 15, "fixtures/malformed missing? \(Self.cases.count) cases")
        for name in Self.cases { #expect(Self.expected[name] != nil, "no expectation for \(name)") }
    }

    @Test(arguments: cases)
    func refusedWithItsSpecificError(_ name: String) {
        let path = TorchFixtures.malformed + name
        guard let (message, inner) = openingRefusal(path) else { Issue.record("\(name) was accepted"); return }
        #expect(message.hasPrefix(path + ": "), "the error names the file: \(message)")
        #expect(!message.contains("\n"), "one line: \(message)")
        #expect(Self.expected[name]?(inner) == true, "\(name): \(message)")
    }

    @Test func tensorErrorsNameTheTensor() {
        do {
            _ = try CheckpointReader.open(path: TorchFixtures.malformed + "pt_storage_too_large.pt")
        } catch let e as LocatedError {
            #expect(e.tensor == "w")
        } catch { Issue.record("\(error)") }
    }
}

import Testing
import LatteCore
@testable import LatteReaders

/// `torch.export` archives (`.pt2`): the committed fixtures as torch read them, tied weights,
/// and archives built by hand.
@Suite struct TorchExportTests {
    @Test(arguments: ExpectedFixture.all(formatPrefix: "pytorch-export"))
    func agreesWithTorch(_ fixture: ExpectedFixture) throws { try fixture.check() }

    @Test func fixturesArePresent() {
        #expect(!ExpectedFixture.all(formatPrefix: "pytorch-export").isEmpty)
    }

    @Test func tiedWeightsShareOneRecord() throws {
        let c = try CheckpointReader.open(path: TorchFixtures.readers + "exported.pt2")
        let head = try #require(c.tensor(named: "head.weight")), tied = try #require(c.tensor(named: "tied.weight"))
        #expect(head.storageKey == tied.storageKey && head.storageOffset == tied.storageOffset)
        #expect(c.tensor(named: "offset") != nil) // a constant, from data/constants/
    }

    /// A `.pt2` built by hand around one weights config.
    func pt2(config: String, weights: [(String, [UInt8])], constants: String? = nil, archiveFormat: String = "pt2") -> [UInt8] {
        var z = ZipBuilder()
        z.add("m/archive_format", archiveFormat)
        z.add("m/byteorder", "little")
        for (k, v) in weights { z.add("m/data/weights/\(k)", v) }
        z.add("m/data/weights/model_weights_config.json", config)
        if let constants { z.add("m/data/constants/model_constants_config.json", constants) }
        return z.bytes()
    }

    func entry(_ path: String, dtype: Int, sizes: [Int], strides: [Int], offset: Int = 0, extra: String = "") -> String {
        let s = sizes.map { "{\"as_int\": \($0)}" }.joined(separator: ", ")
        let t = strides.map { "{\"as_int\": \($0)}" }.joined(separator: ", ")
        return """
        {"path_name": "\(path)", "is_param": true, "use_pickle": false\(extra), "tensor_meta": {"dtype": \(dtype), "sizes": [\(s)], \
        "requires_grad": false, "device": {"type": "cpu", "index": null}, "strides": [\(t)], "storage_offset": {"as_int": \(offset)}, "layout": 7}}
        """
    }

    @Test func viewsAndDTypeCodes() throws {
        let cfg = """
        {"config": {"a": \(entry("weight_0", dtype: 13, sizes: [2, 2], strides: [1, 2])), \
        "b": \(entry("weight_0", dtype: 13, sizes: [2], strides: [1], offset: 2))}}
        """
        try withTorch(pt2(config: cfg, weights: [("weight_0", [1, 0, 2, 0, 3, 0, 4, 0])])) { c, contents in
            #expect(contents.format == .pytorchExport)
            #expect(c.tensors.map(\.name) == ["a", "b"])
            #expect(c.tensors.allSatisfy { $0.dtype == .bf16 })
            let gota = try contiguousBytes(c, "a")
            #expect(gota == [1, 0, 3, 0, 2, 0, 4, 0])
            let gotb = try contiguousBytes(c, "b")
            #expect(gotb == [3, 0, 4, 0])
        }
    }

    @Test func configRulesEachHaveTheirError() {
        func err(_ cfg: String, _ w: [(String, [UInt8])] = [("weight_0", [0, 0, 0, 0])]) -> (any Error)? {
            caught { _ = try readTorch(pt2(config: cfg, weights: w)) }
        }
        #expect(err(#"{"config": {"a": \#(entry("weight_0", dtype: 99, sizes: [1], strides: [1]))}}"#) as? TorchReaderError
            == .exportUnknownDTypeCode(99))
        #expect(err(#"{"config": {"a": \#(entry("weight_0", dtype: 9, sizes: [1], strides: [1]))}}"#) as? TorchReaderError
            == .dtypeWithoutName("complex32"))
        #expect(err(#"{"config": {"a": \#(entry("weight_9", dtype: 7, sizes: [1], strides: [1]))}}"#) as? TorchReaderError
            == .exportMissingRecord("data/weights/weight_9"))
        guard case .badView? = err(#"{"config": {"a": \#(entry("weight_0", dtype: 7, sizes: [2], strides: [1]))}}"#) as? TorchReaderError else {
            Issue.record("a view past its record was accepted"); return
        }
        let symbolic = #"{"config": {"a": {"path_name": "weight_0", "tensor_meta": {"dtype": 7, "sizes": [{"as_expr": {"expr_str": "s0"}}], "strides": [{"as_int": 1}], "storage_offset": {"as_int": 0}}}}}"#
        #expect(err(symbolic) as? TorchReaderError == .exportSymbolic("sizes"))
        #expect(err(#"{"config": {"a": {"path_name": "../../etc/passwd"}}}"#) as? TorchReaderError
            == .exportBadConfig(file: "data/weights/model_weights_config.json", reason: "entry 'a' has no valid 'path_name'"))
        guard case .exportBadConfig? = err("{not json") as? TorchReaderError else { Issue.record("bad JSON accepted"); return }
        #expect(err(#"{"nothing": 1}"#) as? TorchReaderError
            == .exportBadConfig(file: "data/weights/model_weights_config.json", reason: "no 'config' object"))
    }

    @Test func pickledEntriesGoThroughThePickleMachine() throws {
        // use_pickle: the record is a torch.save zip of one tensor, nested in the archive.
        let inner = torchZip(P.proto() + P.tensor("FloatStorage", key: "0", numel: 2, size: [2], stride: [1]) + [0x2E],
                             storages: [("0", f32Bytes([5, 6]))], top: "weight_0")
        let cfg = #"{"config": {"p": {"path_name": "weight_0", "is_param": true, "use_pickle": true}}}"#
        try withTorch(pt2(config: cfg, weights: [("weight_0", inner)])) { c, _ in
            let gotp = try contiguousBytes(c, "p")
            #expect(gotp == f32Bytes([5, 6]))
        }
        // A hostile pickle inside is refused the same way.
        let hostile = torchZip(P.proto() + P.global("os", "system") + [0x2E], top: "w")
        #expect(caught { _ = try readTorch(pt2(config: cfg, weights: [("weight_0", hostile)])) } as? PickleError
            == .refusedGlobal(module: "os", name: "system"))
    }

    @Test func anArchiveWithoutConfigIsRefused() {
        var z = ZipBuilder()
        z.add("m/archive_format", "pt2")
        z.add("m/models/model.json", "{}")
        #expect(caught { _ = try readTorch(z.bytes()) } as? TorchReaderError == .exportMissingConfig)
    }
}

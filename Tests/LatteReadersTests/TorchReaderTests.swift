import Testing
import LatteCore
@testable import LatteReaders

@Suite struct TorchReaderTests {
    @Test func fixturesArePresent() {
        let zips = ExpectedFixture.all(formatPrefix: "pytorch-zip")
        #expect(zips.count >= 10, "fixtures/readers missing? found \(zips.count) pytorch-zip fixtures")
        #expect(!ExpectedFixture.all(formatPrefix: "pytorch-sharded").isEmpty)
    }

    @Test(arguments: ExpectedFixture.all(formatPrefix: "pytorch-zip") + ExpectedFixture.all(formatPrefix: "pytorch-sharded"))
    func agreesWithTorch(_ fixture: ExpectedFixture) throws {
        try fixture.check()
    }

    func floats(_ b: [UInt8]) -> [Float] {
        stride(from: 0, to: b.count, by: 4).map { (i: Int) -> Float in
            var bits: UInt32 = 0
            for k in 0 ..< 4 { bits |= UInt32(b[i + k]) << UInt32(8 * k) }
            return Float(bitPattern: bits)
        }
    }

    @Test func viewsAreMaterializedFromTheirStorage() throws {
        let c = try CheckpointReader.open(path: TorchFixtures.readers + "views.pt")
        // base = arange(24).reshape(4, 6): contiguous, handed out from the map.
        let base = try #require(c.tensor(named: "base"))
        #expect(try c.bytes(of: base).isZeroCopy)
        #expect(floats(try contiguousBytes(c, "base")) == (0 ..< 24).map(Float.init))
        // transposed: strides (1, 6) over the same storage.
        let t = try #require(c.tensor(named: "transposed"))
        #expect(t.strides == [1, 6])
        #expect(t.storageKey == base.storageKey)
        #expect(!(try c.bytes(of: t).isZeroCopy))
        #expect(floats(try contiguousBytes(c, "transposed")) == (0 ..< 24).map { Float(($0 % 4) * 6 + $0 / 4) })
        // sliced rows 1..<3: storage offset 6, still contiguous.
        let s = try #require(c.tensor(named: "sliced"))
        #expect(s.elementOffset == 6)
        #expect(floats(try contiguousBytes(c, "sliced")) == (6 ..< 18).map(Float.init))
        // every second column: strides (6, 2).
        #expect(floats(try contiguousBytes(c, "strided")) == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22].map(Float.init))
        // expand: stride 0.
        #expect(c.tensor(named: "expanded")?.strides == [0, 1])
        #expect(floats(try contiguousBytes(c, "expanded")) == [1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3])
        // a column: 1-D view with stride 6.
        #expect(floats(try contiguousBytes(c, "column")) == [3, 9, 15, 21])
    }

    @Test func sharedStoragesStayTwoTensorsOverOneStorage() throws {
        let c = try CheckpointReader.open(path: TorchFixtures.readers + "views.pt")
        let a = try #require(c.tensor(named: "tied_a")), b = try #require(c.tensor(named: "tied_b"))
        #expect(a.storageKey == b.storageKey)
        #expect(a.storageOffset == b.storageOffset)
        let first = try #require(c.tensor(named: "share_first")), second = try #require(c.tensor(named: "share_second"))
        #expect(first.storageKey == second.storageKey)
        #expect(first.storageOffset == second.storageOffset)
        #expect(first.elementOffset == 0 && second.elementOffset == 5)
        #expect(second.shape == [7, 1])
    }

    @Test func bigEndianStoragesAreSwappedOnRead() throws {
        let c = try CheckpointReader.open(path: TorchFixtures.readers + "big_endian.pt")
        #expect(c.tensors.allSatisfy { $0.byteOrder == .big })
        #expect(floats(try contiguousBytes(c, "f32")) == [1.0, -2.5, .infinity])
        let i64 = try contiguousBytes(c, "i64")
        let values = stride(from: 0, to: i64.count, by: 8).map { (i: Int) -> Int64 in
            var u: UInt64 = 0
            for k in 0 ..< 8 { u |= UInt64(i64[i + k]) << UInt64(8 * k) }
            return Int64(bitPattern: u)
        }
        #expect(values == [1, -2, 1 << 40])
        // Single bytes need no swap and stay zero-copy.
        #expect(try c.bytes(of: try #require(c.tensor(named: "u8"))).isZeroCopy)
    }

    @Test func nestedContainersAndSkippedLeaves() throws {
        let c = try CheckpointReader.open(path: TorchFixtures.readers + "nested.pt")
        #expect(c.tensors.map(\.name).contains("state_dict.dec.weight"))
        #expect(c.skippedLeaves == ["epoch", "optimizer_name", "lr", "extra", "pair.1"])
    }

    @Test func metaTensorsHaveAShapeAndNoData() throws {
        let c = try CheckpointReader.open(path: TorchFixtures.readers + "meta_device.pt")
        let m = try #require(c.tensor(named: "meta_weight"))
        #expect(m.isMeta && m.shape == [2, 3] && m.dtype == .f32)
        #expect(throws: TensorReadError.noData(tensor: "meta_weight")) { try c.bytes(of: m) }
        #expect(c.tensor(named: "real")?.isMeta == false)
    }

    // Hand-built archives: rules that no torch-written fixture breaks.

    @Test func handBuiltArchiveReadsParametersAndOrderedDicts() throws {
        // {"p": Parameter(tensor), "o": OrderedDict(a=tensor)} with Parameter via _rebuild_parameter.
        let tensor = P.tensor("FloatStorage", key: "0", numel: 4, size: [2, 2], stride: [2, 1])
        let param = P.global("torch._utils", "_rebuild_parameter") + [0x28] + tensor + [0x88] + P.global("collections", "OrderedDict") + [0x29, 0x52, 0x74, 0x52]
        let od = P.global("collections", "OrderedDict") + [0x29, 0x52] + P.bu("a") + tensor + [0x73]
        let pkl = P.dict([("p", param), ("o", od), ("n", [0x4E])])
        let c = try readTorch(torchZip(pkl, storages: [("0", f32Bytes([1, 2, 3, 4]))]))
        #expect(c.format == .pytorchZip)
        #expect(c.tensors.map(\.name) == ["p", "o.a"])
        #expect(c.skipped == ["n"])
    }

    @Test func tensorsRebuiltFromTypeAndParametersWithState() throws {
        // A tensor with attributes: _rebuild_from_type_v2(_rebuild_tensor_v2, torch.Tensor, (args), state).
        let args = [0x28] + P.tuple([P.bu("storage"), P.global("torch", "FloatStorage"), P.bu("0"), P.bu("cpu"), P.int(2)]) + [0x51]
            + P.int(0) + P.tuple([P.int(2)]) + P.tuple([P.int(1)]) + [0x89] + P.global("collections", "OrderedDict") + [0x29, 0x52, 0x74]
        let fromType = P.global("torch._tensor", "_rebuild_from_type_v2") + [0x28] + P.global("torch._utils", "_rebuild_tensor_v2")
            + P.global("torch", "Tensor") + args + [0x7D] + P.bu("foo") + [0x4B, 1, 0x73, 0x74, 0x52]
        let withState = P.global("torch._utils", "_rebuild_parameter_with_state") + [0x28]
            + P.tensor("FloatStorage", key: "0", numel: 2, size: [2], stride: [1]) + [0x88]
            + P.global("collections", "OrderedDict") + [0x29, 0x52, 0x7D, 0x74, 0x52]
        try withTorch(torchZip(P.dict([("t", fromType), ("p", withState)]), storages: [("0", f32Bytes([1, 2]))])) { c, contents in
            #expect(contents.tensors.map(\.name) == ["t", "p"])
            let t = try contiguousBytes(c, "t")
            #expect(t == f32Bytes([1, 2]))
        }
        // The function given to _rebuild_from_type_v2 must itself be a tensor rebuild function.
        let sneaky = P.global("torch._tensor", "_rebuild_from_type_v2") + [0x28] + P.global("collections", "OrderedDict")
            + P.global("torch", "Tensor") + [0x29, 0x7D, 0x74, 0x52]
        guard case .badCall? = caught({ _ = try readTorch(torchZip(P.dict([("x", sneaky)]))) }) as? PickleError else {
            Issue.record("a non-tensor function went through _rebuild_from_type_v2"); return
        }
    }

    @Test func untypedStorageWithExplicitDType() throws {
        // _rebuild_tensor_v3 over an UntypedStorage: numel counts bytes, the dtype is explicit.
        var t = P.global("torch._utils", "_rebuild_tensor_v3") + [0x28]
        t += P.tuple([P.bu("storage"), P.global("torch.storage", "UntypedStorage"), P.bu("0"), P.bu("cuda:0"), P.int(6)]) + [0x51]
        t += P.int(0) + P.tuple([P.int(3)]) + P.tuple([P.int(1)]) + [0x89] + P.global("collections", "OrderedDict") + [0x29, 0x52]
        t += P.global("torch", "uint16") + [0x74, 0x52]
        try withTorch(torchZip(P.dict([("u", t)]), storages: [("0", [1, 0, 2, 0, 0xFF, 0xFF])])) { c, _ in
            let e = try #require(c.tensor(named: "u"))
            #expect(e.dtype == .u16 && e.shape == [3] && e.storageLength == 6)
            let gotu = try contiguousBytes(c, "u")
            #expect(gotu == [1, 0, 2, 0, 0xFF, 0xFF])
        }
    }

    @Test func dtypeWithoutASafetensorsNameIsAnErrorNamingTheTensor() {
        let pkl = P.dict([("ch", P.tensor("ComplexHalfStorage", key: "0", numel: 1, size: [1], stride: [1]))])
        do {
            _ = try readTorch(torchZip(pkl, storages: [("0", [0, 0, 0, 0])]))
            Issue.record("complex32 was accepted")
        } catch let e as LocatedError {
            #expect(e.tensor == "ch")
            #expect(underlying(e) as? TorchReaderError == .dtypeWithoutName("complex32"))
        } catch { Issue.record("\(error)") }
    }

    @Test func viewsOutsideTheirStorageAreRefused() {
        let pkl = P.dict([("w", P.tensor("FloatStorage", key: "0", numel: 4, offset: 2, size: [2, 2], stride: [2, 1]))])
        let e = caught { _ = try readTorch(torchZip(pkl, storages: [("0", f32Bytes([1, 2, 3, 4]))])) }
        guard case .badView(.outsideStorage)? = e as? TorchReaderError else { Issue.record("\(String(describing: e))"); return }
        let neg = P.dict([("w", P.tensor("FloatStorage", key: "0", numel: 4, size: [2, 2], stride: [-1, 1]))])
        #expect(caught { _ = try readTorch(torchZip(neg, storages: [("0", f32Bytes([1, 2, 3, 4]))])) } as? TorchReaderError
            == .badView(.negativeStride([-1, 1])))
    }

    @Test func missingStorageAndBadByteOrderAreNamed() {
        let pkl = P.dict([("w", P.tensor("FloatStorage", key: "9", numel: 1, size: [1], stride: [1]))])
        #expect(caught { _ = try readTorch(torchZip(pkl)) } as? TorchReaderError == .missingStorageRecord(key: "9"))
        #expect(caught { _ = try readTorch(torchZip(pkl, storages: [("9", [0, 0, 0, 0])], byteorder: "middle")) } as? TorchReaderError
            == .badByteOrder("middle"))
        // A storage numel whose byte size overflows.
        let huge = P.dict([("w", P.tensor("DoubleStorage", key: "0", numel: Int(Int32.max), size: [1], stride: [1]))])
        #expect(caught { _ = try readTorch(torchZip(huge, storages: [("0", [0])])) } as? TorchReaderError
            == .storageTooLarge(key: "0", declaredBytes: Int(Int32.max) * 8, recordBytes: 1))
    }

    @Test func duplicateKeyPathsAreRefused() {
        // {"a.b": t, "a": {"b": t}} collide on "a.b".
        let t = P.tensor("FloatStorage", key: "0", numel: 1, size: [1], stride: [1])
        let inner = [0x7D] + P.bu("b") + t + [0x73]
        let e = caught { _ = try readTorch(torchZip(P.dict([("a.b", t), ("a", inner)]), storages: [("0", [0, 0, 0, 0])])) }
        #expect(e as? TorchReaderError == .duplicateTensorName)
    }

    @Test func aZipWithoutAPickleIsNotACheckpoint() {
        var z = ZipBuilder()
        z.add("x/readme.txt", "hello")
        #expect(caught { _ = try readTorch(z.bytes()) } as? TorchReaderError == .zipWithoutPickle)
    }

    @Test func detectionTellsSafetensorsFromPickles() {
        // A safetensors header of 0x0280 bytes starts with 0x80 0x02 like a pickle.
        var st: [UInt8] = [0x80, 0x02, 0, 0, 0, 0, 0, 0]
        let header = Array(#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#.utf8)
        st += header + [UInt8](repeating: 0x20, count: 0x0280 - header.count) + [7]
        st.withUnsafeBytes { #expect(CheckpointReader.detect(bytes: $0) == .safetensors) }
        let legacy: [UInt8] = [0x80, 0x02, 0x8A, 0x0A] + LegacyTorchFormat.magic + [0x2E]
        legacy.withUnsafeBytes { #expect(CheckpointReader.detect(bytes: $0) == .pytorchLegacy) }
        torchZip(P.dict([])).withUnsafeBytes { #expect(CheckpointReader.detect(bytes: $0) == .zipArchive) }
    }
}

import LatteCore

/// The pre-1.6 `torch.save` stream (`_use_new_zipfile_serialization=False`): five pickles
/// back to back (magic number, protocol version 1001, sys_info, the object, the storage
/// keys), then each listed storage as an 8-byte little-endian element count and its bytes.
enum LegacyTorchFormat {
    /// 0x1950a86a20f9469cfc6c, little-endian, as LONG1 stores it.
    static let magic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]
    static let protocolVersion = 1001

    /// A pickle with a PROTO opcode (protocol 2 and up), as every legacy file starts.
    static func looksLikePickle(_ b: UnsafeRawBufferPointer) -> Bool {
        b.count >= 2 && b[0] == PickleMachine.Opcode.PROTO.rawValue && b[1] >= 2 && b[1] <= 5
    }

    /// The pickles back to back at the start of the file, then the storages' bytes.
    struct Stream {
        let bytes: UnsafeRawBufferPointer
        let machine: PickleMachine
        /// Where the next pickle (or, after the fifth, the first storage) starts.
        var pos = 0

        /// Runs the next pickle. The caller releases the result.
        mutating func next() throws -> PickleMachine.Result {
            let r = try machine.run(UnsafeRawBufferPointer(rebasing: bytes[pos...]))
            pos += r.length
            return r
        }
    }

    static func read(_ bytes: UnsafeRawBufferPointer, fileIndex: Int,
                     machine: PickleMachine = PickleMachine()) throws -> TorchContents {
        var stream = Stream(bytes: bytes, machine: machine)
        let order = try readPreamble(&stream)
        // 4. The object.
        let object = try stream.next()
        defer { object.release() }
        let collected = try TensorCollector.collect(object.value, pickleBytes: object.length)
        // 5. The storage keys, in the order their bytes follow.
        let keys = try storageKeys(&stream)

        // Each root storage's declared element count and size, from the tensors that use it.
        var declared: [String: StorageRef] = [:]
        for (_, t) in collected.tensors {
            if let s = t.storage, declared[s.key] == nil { declared[s.key] = s }
        }
        let located = try locateStorages(keys, declared: declared, in: &stream)
        let builder = TensorEntryBuilder(fileIndex: fileIndex, byteOrder: order)
        let tensors = try builder.entries(collected.tensors) { name, s, _ in
            do { return try window(of: s, located: located, declared: declared) } catch let e as TorchReaderError {
                throw TensorError(tensor: name, e)
            }
        }
        return TorchContents(format: .pytorchLegacy, tensors: tensors, metadata: [:], skipped: collected.skipped)
    }

    /// The first three pickles: the magic number, the protocol version and sys_info, of
    /// which only the byte order matters (type sizes are fixed for the types we read).
    static func readPreamble(_ stream: inout Stream) throws -> ByteOrder {
        // 1. The magic number. Anything else is not a legacy file, whatever follows.
        let magicResult: PickleMachine.Result
        do { magicResult = try stream.next() } catch let e as PickleError {
            // A hostile global is worth naming even here; any other failure means no magic number.
            if case .refusedGlobal = e { throw e }
            throw TorchReaderError.legacyBadMagic
        }
        defer { magicResult.release() }
        guard case let .bigInt(m) = magicResult.value, m == magic else { throw TorchReaderError.legacyBadMagic }

        // 2. The protocol version.
        let version = try stream.next()
        defer { version.release() }
        guard case let .int(v) = version.value, v == protocolVersion else {
            throw TorchReaderError.legacyBadProtocolVersion(describe(version.value))
        }

        // 3. sys_info.
        let sysInfo = try stream.next()
        defer { sysInfo.release() }
        guard case let .dict(info) = sysInfo.value else { throw TorchReaderError.legacyBadSysInfo("expected a dict, found \(sysInfo.value.kind)") }
        var order = ByteOrder.little
        for (k, v) in info.entries where k.stringValue == "little_endian" {
            guard case let .bool(little) = v else { throw TorchReaderError.legacyBadSysInfo("little_endian must be a bool, found \(v.kind)") }
            order = little ? .little : .big
        }
        return order
    }

    /// The fifth pickle: a list of the storage keys.
    static func storageKeys(_ stream: inout Stream) throws -> [String] {
        let keysResult = try stream.next()
        defer { keysResult.release() }
        guard let keyValues = keysResult.value.sequence else {
            throw TorchReaderError.legacyBadStorageKeys("expected a list, found \(keysResult.value.kind)")
        }
        var keys: [String] = []
        keys.reserveCapacity(keyValues.count)
        for k in keyValues {
            guard let s = k.stringValue else { throw TorchReaderError.legacyBadStorageKeys("a key is \(k.kind), not a string") }
            keys.append(s)
        }
        return keys
    }

    /// Walks the storages after the pickles: each one's count is read and checked against
    /// the rest of the file and the count its tensors declare. Returns where each one's
    /// bytes start and its element count.
    static func locateStorages(_ keys: [String], declared: [String: StorageRef],
                               in stream: inout Stream) throws -> [String: (offset: Int, count: Int)] {
        let bytes = stream.bytes
        var located: [String: (offset: Int, count: Int)] = [:]
        for key in keys {
            guard let s = declared[key] else { throw TorchReaderError.legacyUnknownStorageKey(key) }
            let remaining = bytes.count - stream.pos
            guard remaining >= 8 else {
                throw TorchReaderError.legacyStorageOverrun(key: key, count: s.numel, elementSize: s.type.elementSize, remaining: max(remaining, 0))
            }
            let raw = bytes.loadUnaligned(fromByteOffset: stream.pos, as: Int64.self).littleEndian
            let (n, o) = Int(raw).multipliedReportingOverflow(by: s.type.elementSize)
            guard raw >= 0, !o, n <= remaining - 8 else {
                throw TorchReaderError.legacyStorageOverrun(key: key, count: Int(raw), elementSize: s.type.elementSize, remaining: remaining - 8)
            }
            guard Int(raw) == s.numel else {
                throw TorchReaderError.legacyStorageCountMismatch(key: key, declared: s.numel, found: Int(raw))
            }
            guard located[key] == nil else { throw TorchReaderError.legacyBadStorageKeys("storage '\(key)' is listed twice") }
            located[key] = (stream.pos + 8, Int(raw))
            stream.pos += 8 + n
        }
        return located
    }

    /// The bytes of storage `s` as a tensor uses it: the root storage's, or a view's window of them.
    static func window(of s: StorageRef, located: [String: (offset: Int, count: Int)],
                       declared: [String: StorageRef]) throws(TorchReaderError) -> TensorEntryBuilder.Located {
        guard let root = located[s.key] else { throw TorchReaderError.missingStorageRecord(key: s.key) }
        let es = s.type.elementSize
        guard s.numel == root.count, s.type.elementSize == declared[s.key]?.type.elementSize else {
            throw TorchReaderError.legacyStorageCountMismatch(key: s.key, declared: s.numel, found: root.count)
        }
        guard let view = s.view else {
            return .init(offset: root.offset, length: root.count * es, key: s.key)
        }
        // A view of the root storage (old torch): its own window of the bytes.
        let (end, o) = view.offset.addingReportingOverflow(view.size)
        guard !o, end <= root.count else { throw TorchReaderError.legacyViewOutsideStorage(key: s.key, view: view.key) }
        return .init(offset: root.offset + view.offset * es, length: view.size * es, key: s.key)
    }

    static func describe(_ v: PickleValue) -> String {
        switch v {
        case let .int(i): String(i)
        default: v.kind
        }
    }
}

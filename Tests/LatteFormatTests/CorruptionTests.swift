import Testing
import LatteCore
import LatteReaders
@testable import LatteFormat
import LatteTestSupport

/// Any damage is an error that names the tensor or the manifest, never a crash.
@Suite struct CorruptionTests {
    /// A .latte of the synthetic checkpoint and its bytes.
    func make(_ dir: TempDir) throws -> (path: String, bytes: [UInt8], file: LatteFile) {
        let (_, file) = try syntheticLatte(dir)
        return (file.path, readFile(file.path), file)
    }

    @Test func flippedManifestByte() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let (path, bytes, file) = try make(dir)
        let at = file.size - LatteLayout.trailerSize - 10
        var damaged = bytes
        damaged[at] ^= 0x20
        writeFile(path, damaged)
        let m = errorText { _ = try LatteFile(path: path) }
        #expect(m.contains("the manifest is corrupt"), "\(m)")
        #expect(m.hasPrefix(path))
    }

    /// One flipped byte inside a chunk of each codec is caught by any read of that tensor
    /// and by verify, naming the tensor.
    @Test(arguments: [ChunkCodec.planes, .zstd, .raw])
    func flippedChunkByte(codec: ChunkCodec) throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let (path, bytes, file) = try make(dir)
        guard let t = file.tensors.first(where: { $0.chunks.contains { $0.codec == codec } }) else {
            Issue.record("the synthetic checkpoint has no \(codec) chunk")
            return
        }
        let c = t.chunks.first { $0.codec == codec }!
        for position in [c.offset, c.offset + c.length / 2, c.offset + c.length - 1] {
            var damaged = bytes
            damaged[position] ^= 0x01
            writeFile(path, damaged)
            let reopened = try LatteFile(path: path)
            let m = errorText { _ = try reopened.read(named: t.name) }
            #expect(m.contains("tensor '\(t.name)'"), "\(codec) at \(position): \(m)")
            let report = LatteVerifier.verify(reopened)
            #expect(!report.ok)
            #expect(report.failures.map(\.tensor) == [t.name])
            // Export refuses too, and leaves no file.
            #expect(throws: (any Error).self) { try SafetensorsExport.export(reopened, to: dir.file("x.safetensors")) }
            #expect(!fileExists(dir.file("x.safetensors")))
        }
    }

    @Test func truncatedFile() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let (path, bytes, _) = try make(dir)
        for keep in [0, 7, 64, 95, bytes.count / 2, bytes.count - 1] {
            writeFile(path, Array(bytes.prefix(keep)))
            let m = errorText { _ = try LatteFile(path: path) }
            #expect(m.contains("not a .latte file") || m.contains("trailer") || m.contains("the manifest"), "\(keep): \(m)")
        }
    }

    /// A manifest rewritten with a consistent checksum but hostile content is refused by
    /// validation, before any read.
    @Test func hostileManifests() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let (path, bytes, file) = try make(dir)
        let t = bytes.count - LatteLayout.trailerSize
        let offset = Int(bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: t, as: UInt64.self) })
        let text = String(decoding: bytes[offset ..< t], as: UTF8.self)
        let name = file.tensors[0].name
        let edits: [(String, String, String)] = [
            ("\"chunk_size\":4096", "\"chunk_size\":999999999999", "chunk_size"),
            ("\"required\":[", "\"required\":[\"quantum\",", "feature 'quantum'"),
            // Files of development builds before the 32-lane coder: their `rans` is not `rans32`.
            ("\"required\":[", "\"required\":[\"rans\",", "feature 'rans'"),
            ("\"nbytes\":\(file.tensors[0].nbytes)", "\"nbytes\":12", "tensor '\(name)'"),
            ("\"chunks\":[{\"offset\":\(file.tensors[0].chunks[0].offset)", "\"chunks\":[{\"offset\":\(offset + 1000)", "tensor '\(name)'"),
        ]
        for (from, to, expected) in edits {
            #expect(text.contains(from), "\(from)")
            let edited = Array(text.replacingFirst(from, with: to).utf8)
            var out = Array(bytes[0 ..< offset]) + edited
            for v in [UInt64(offset), UInt64(edited.count), XXH64.hash(edited)] {
                for k in 0 ..< 8 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(k)))) }
            }
            out += LatteLayout.endMagic
            writeFile(path, out)
            let m = errorText { _ = try LatteFile(path: path) }
            #expect(m.contains(expected), "\(to): \(m)")
        }
    }

    @Test func notALatteFile() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        writeSafetensors(dir.file("model.safetensors"), syntheticCheckpoint())
        #expect(try CheckpointReader.detect(path: dir.file("model.safetensors")).kind == .safetensors)
        #expect(throws: FileAccessError.self) { try CheckpointReader.detect(path: dir.file("missing")) }
        #expect(throws: (any Error).self) { try LatteFile(path: dir.file("model.safetensors")) }
    }
}

extension String {
    func replacingFirst(_ a: String, with b: String) -> String {
        guard let r = range(of: a) else { return self }
        return String(self[..<r.lowerBound]) + b + String(self[r.upperBound...])
    }

    func range(of s: String) -> Range<String.Index>? {
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(s) { return i ..< index(i, offsetBy: s.count) }
            i = index(after: i)
        }
        return nil
    }
}

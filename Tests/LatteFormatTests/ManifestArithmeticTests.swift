import Testing
import LatteCore
import LatteReaders
@testable import LatteFormat
import LatteTestSupport

/// Every number of a manifest is hostile until checked: sizes that overflow `Int` when added
/// or multiplied are refused at open with an error naming the entry, never a trap. Each file
/// is a valid one with its manifest rewritten and the trailer signed again.
@Suite struct ManifestArithmeticTests {
    static let edits: [ManifestEdit] = [
        // The plane lengths of issue 10: four lengths near Int.max sum past it.
        ManifestEdit(name: "plane lengths sum past Int.max", expected: "plane lengths sum past the chunk's") { m in
            for k in 0 ..< 4 { m.tensors[0].chunks[0].planes[k] = PlaneEntry(codec: .rans32, length: Int.max / 2 + 1) }
        },
        ManifestEdit(name: "one plane takes the whole chunk, the next Int.max", expected: "plane lengths sum past the chunk's") { m in
            let length = m.tensors[0].chunks[0].length
            m.tensors[0].chunks[0].planes = [PlaneEntry(codec: .rans32, length: length), PlaneEntry(codec: .rans32, length: Int.max),
                                             PlaneEntry(codec: .rans32, length: Int.max - length + 2), PlaneEntry(codec: .rans32, length: 1)]
        },
        ManifestEdit(name: "chunk offset near Int.max", expected: "lies outside its section") { m in
            m.tensors[0].chunks[1].offset = Int.max - 10
        },
        ManifestEdit(name: "chunk length Int.max", expected: "lies outside its section") { m in
            m.tensors[0].chunks[1].length = Int.max
        },
        ManifestEdit(name: "chunk raw size Int.max", expected: "raw bytes") { m in
            m.tensors[0].chunks[23].raw = Int.max
        },
        ManifestEdit(name: "section past the end of Int", expected: "section 'shared' lies outside the data region") { m in
            m.sections[0].offset = Int.max - 5
            m.sections[0].length = Int.max
        },
        ManifestEdit(name: "nbytes Int.max", expected: "\"nbytes\" must be") { m in
            m.tensors[0].nbytes = Int.max
        },
        ManifestEdit(name: "shape whose element count overflows", expected: "has more than \(Int.max) elements") { m in
            m.tensors[0].shape = [1 << 40, 1 << 40]
        },
        ManifestEdit(name: "shape whose byte count overflows", expected: "takes more than \(Int.max) bytes") { m in
            m.tensors[0].shape = [1 << 61]
        },
        ManifestEdit(name: "chunk size past the limit", expected: "\"chunk_size\" must be") { m in
            m.chunkSize = Int.max
        },
        ManifestEdit(name: "chunk size not a multiple of 8", expected: "\"chunk_size\" must be") { m in
            m.chunkSize = 4092
        },
        ManifestEdit(name: "negative chunk size", expected: "\"chunk_size\" must be") { m in
            m.chunkSize = Int.min
        },
    ]

    @Test(arguments: edits)
    func refusedAtOpen(_ edit: ManifestEdit) throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let (path, bytes, _) = try multiChunkLatte(dir, chunks: StreamLifetimeTests.chunks)
        writeFile(path, try editedManifest(bytes, path: path, edit.edit))
        let m = errorText { _ = try LatteFile(path: path) }
        #expect(m.hasPrefix(path + ": "), "\(m)")
        #expect(m.contains(edit.expected), "\(edit.name): \(m)")
    }

    /// Numbers JSON can write but no Int holds: refused (whatever the JSON reader makes of
    /// them), never trapped on.
    @Test(arguments: ["18446744073709551616", "1e30", "-9223372036854775809", "4096.5"])
    func numbersBeyondInt(_ number: String) throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let (path, bytes, file) = try multiChunkLatte(dir, chunks: 2)
        let text = String(decoding: bytes[manifestRange(of: bytes)], as: UTF8.self)
        for member in ["\"offset\":\(file.tensors[0].chunks[1].offset)", "\"length\":\(file.tensors[0].chunks[0].length)",
                       "\"raw\":4096", "\"nbytes\":8192"] {
            #expect(text.contains(member), "\(member)")
            let name = member.prefix { $0 != ":" }
            writeFile(path, resigned(bytes, manifest: Array(text.replacingFirst(member, with: "\(name):\(number)").utf8)))
            let m = errorText { _ = try LatteFile(path: path) }
            #expect(m.contains("tensor 'w'") || m.contains("the manifest"), "\(member) → \(number): \(m)")
        }
    }

    /// Sizes past Int.max in an embedded file's entry.
    @Test func blobSizes() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let (path, bytes) = try latteWithEmbeddedRunJSON(dir)
        for edit: (inout LatteManifest) -> Void in [{ $0.blobs[0].nbytes = Int.max }, { $0.blobs[0].chunks[0].raw = Int.max },
                                                    { $0.blobs[0].chunks[0].offset = Int.max - 1 }] {
            writeFile(path, try editedManifest(bytes, path: path, edit))
            let m = errorText { _ = try LatteFile(path: path) }
            #expect(m.contains("embedded file 'run.json'"), "\(m)")
        }
    }
}

import LatteCore

extension InspectReport {
    /// The `inspect` report of a `.latte` file: stored bytes, group and role per tensor,
    /// and the plan's groups at top level when the file was mapped.
    public init(_ latte: LatteFile) {
        let sections = latte.manifest.sections
        let tensors = latte.manifest.tensors.map { t in
            Tensor(name: t.name, dtype: t.dtype, shape: t.shape, nbytes: t.nbytes, storedBytes: t.storedBytes,
                   group: t.group ?? sections[t.section].group, role: t.role, base: t.base?.name,
                   deltaChunks: t.chunks.lazy.filter(\.xorTwin).count)
        }
        var extra: [(String, JSONValue)] = [("file_bytes", .int(Int64(latte.size)))]
        if let files = latte.manifest.base {
            extra.append(("base", .object([
                ("files", BaseFile.json(files)["files"] ?? .array([])),
                ("tensors", .int(Int64(tensors.lazy.filter { $0.base != nil }.count))),
                ("bytes", .int(Int64(tensors.lazy.filter { $0.base != nil }.reduce(0) { $0 + $1.nbytes }))),
            ])))
        }
        if let groups = latte.manifest.planGroups { extra.append(("groups", groups)) }
        var metadata: [String: String] = [:]
        for (k, v) in latte.manifest.metadata { metadata[k] = v }
        self.init(format: .latte, files: [latte.path], metadata: metadata, tensors: tensors, extra: extra)
    }
}

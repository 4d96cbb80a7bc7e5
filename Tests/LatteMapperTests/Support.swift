import Foundation
import LatteCore
import LatteMapper

/// A small config as JSON, every field overridable; `remove` drops members.
func configJSON(_ overrides: [String: JSONValue] = [:], remove: Set<String> = []) -> JSONValue {
    var members: [(String, JSONValue)] = [
        ("model_type", .string("latte_flow")),
        ("hidden_size", .int(8)), ("intermediate_size", .int(16)),
        ("num_hidden_layers", .int(4)), ("num_attention_heads", .int(2)), ("num_key_value_heads", .int(1)),
        ("vocab_size", .int(16)), ("rms_norm_eps", .double(1e-6)), ("rope_theta", .double(10000)),
        ("num_timestep_groups", .int(2)),
        ("latent_channels", .int(2)), ("patch_size", .int(2)), ("latent_size", .array([.int(4), .int(4)])),
        ("time_embed_frequency_dim", .int(8)), ("residual_attention", .bool(true)),
    ]
    for (k, v) in overrides {
        if let i = members.firstIndex(where: { $0.0 == k }) { members[i].1 = v } else { members.append((k, v)) }
    }
    return .object(members.filter { !remove.contains($0.0) })
}

/// A validated config with `L` layers, `K` groups and optional boundaries.
func makeConfig(L: Int = 4, K: Int = 2, boundaries: [Double]? = nil, residualAttention: Bool = true) throws -> ModelConfig {
    var o: [String: JSONValue] = ["num_hidden_layers": .int(Int64(L)), "num_timestep_groups": .int(Int64(K)),
                                  "residual_attention": .bool(residualAttention)]
    if let boundaries { o["timestep_boundaries"] = .array(boundaries.map { .double($0) }) }
    return try ModelConfig(json: configJSON(o))
}

/// The complete tensor list of `config` (dtype F32), in spec order.
func completeTensors(_ config: ModelConfig, dtype: DType = .f32) -> [TensorDescriptor] {
    ReferenceTensors.expected(for: config).map { TensorDescriptor(name: $0.name, dtype: dtype, shape: $0.shape) }
}

/// A fresh, empty temporary folder.
func temporaryFolder() throws -> String {
    let path = NSTemporaryDirectory() + "latte-mapper-tests-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Writes a safetensors file holding `tensors` (all bytes zero), in list order.
func writeSafetensors(_ tensors: [TensorDescriptor], to path: String) throws {
    var members: [(String, JSONValue)] = [("__metadata__", .object([("format", .string("pt"))]))]
    var offset = 0
    for t in tensors {
        let n = t.dtype.byteCount(elements: elementCount(of: t.shape)!)!
        members.append((t.name, .object([
            ("dtype", .string(t.dtype.name)),
            ("shape", .array(t.shape.map { .int(Int64($0)) })),
            ("data_offsets", .array([.int(Int64(offset)), .int(Int64(offset + n))])),
        ])))
        offset += n
    }
    let header = Array(JSONValue.object(members).serialized().utf8)
    var bytes = [UInt8]()
    var length = UInt64(header.count).littleEndian
    withUnsafeBytes(of: &length) { bytes.append(contentsOf: $0) }
    bytes += header
    bytes += [UInt8](repeating: 0, count: offset)
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// Writes a checkpoint folder: `model.safetensors` and `config.json`. Returns the folder.
func writeCheckpoint(_ tensors: [TensorDescriptor], config: JSONValue?, in folder: String? = nil) throws -> String {
    let dir = try folder ?? temporaryFolder()
    try writeSafetensors(tensors, to: dir + "/model.safetensors")
    if let config { try config.serialized(pretty: true).write(toFile: dir + "/config.json", atomically: true, encoding: .utf8) }
    return dir
}

/// The package root (this file is Tests/LatteMapperTests/Support.swift).
let packageRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0 ..< 3 { url.deleteLastPathComponent() }
    return url.path
}()

/// The fixture models the reference generator wrote (fixtures/models), if present.
func fixtureModel(_ name: String) -> String? {
    let path = packageRoot + "/fixtures/models/" + name
    return FileManager.default.fileExists(atPath: path + "/config.json") ? path : nil
}

/// True when the fixture models are present (they are generated, not always checked out).
let fixturesPresent = fixtureModel("tiny") != nil

/// Output of a finished process.
struct ProcessResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs `executable` with `arguments`, collecting its output.
func run(_ executable: String, _ arguments: [String]) throws -> ProcessResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    // Read both pipes before waiting so a large output cannot block the child.
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return ProcessResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}

/// The `latte` executable built beside this test bundle (`swift build --build-tests` builds both).
func latteExecutable() -> String? {
    let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    var dir = exe.deletingLastPathComponent()
    // The test runner may live inside a `.xctest` bundle folder.
    for _ in 0 ..< 3 {
        let candidate = dir.appendingPathComponent("latte").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        dir.deleteLastPathComponent()
    }
    let fallback = packageRoot + "/.build/debug/latte"
    return FileManager.default.isExecutableFile(atPath: fallback) ? fallback : nil
}

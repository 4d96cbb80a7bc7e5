#if canImport(Glibc)
import Glibc
#endif
import Testing
import LatteCore
import LatteTestSupport
import LatteFormat

/// The `latte` binary's contract for convert/export/verify/inspect (docs: docs/CLI.md):
/// exit codes 0/1/64, one `error:` line naming the file and the tensor or the manifest.
@Suite struct ContractTests {
    /// Runs latte with `args`, split at spaces.
    func run(_ args: String) throws -> CLI.Result { try CLI.run(args.split(separator: " ").map(String.init)) }

    @Test func contract() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        writeSafetensors(dir.file("model.safetensors"), syntheticCheckpoint(), metadata: [("format", "pt")])
        let src = dir.file("model.safetensors"), out = dir.file("m.latte")

        #expect(try run("convert \(src)").status == 64)
        #expect(try run("convert \(src) -o \(out) --level 0").status == 64)
        #expect(try run("convert \(src) -o \(out) --threads 0").status == 64)
        #expect(try run("convert \(src) -o \(out) --chunk-size 12").status == 64)
        let missing = try run("convert \(dir.file("nope.safetensors")) -o \(out)")
        #expect(missing.status == 1 && missing.stderr.hasPrefix("error: ") && missing.stderr.contains("nope.safetensors"))
        #expect(!fileExists(out))

        #expect(try run("convert \(src) -o \(out) --no-progress --level 5 --threads 2").status == 0)
        let inspect = try run("inspect \(out) --json")
        #expect(inspect.status == 0)
        let doc = try JSON.parse(inspect.stdout)
        #expect(doc["format"]?.stringValue == "latte")
        #expect(doc["tensors"]?.arrayValue?.first?["stored_bytes"]?.intValue != nil)
        #expect(try run("inspect \(out)").stdout.contains("ratio"))

        let verify = try run("verify \(out) --source \(src) --json")
        #expect(verify.status == 0)
        #expect((try? JSON.parse(verify.stdout))?["ok"] == .bool(true))
        #expect(try run("export \(out) -o \(dir.file("back.safetensors"))").status == 0)
        #expect(try run("verify \(out) --source \(dir.file("back.safetensors"))").status == 0)
        #expect(try run("export \(out)").status == 64)
        #expect(try run("export \(out) -o \(dir.file("t.safetensors")) --threads 0").status == 64)

        // One flipped byte in the first tensor's first chunk: verify names the tensor.
        let file = try LatteFile(path: out)
        let t = file.tensors.first { !$0.chunks.isEmpty }!
        var bytes = readFile(out)
        bytes[t.chunks[0].offset + 1] ^= 0x40
        writeFile(out, bytes)
        let bad = try run("verify \(out)")
        #expect(bad.status == 1)
        #expect(bad.stderr.hasPrefix("error: \(out): ") && bad.stderr.contains("tensor '\(t.name)'"), "\(bad.stderr)")
        let badExport = try run("export \(out) -o \(dir.file("x.safetensors"))")
        #expect(badExport.status == 1 && badExport.stderr.contains("tensor '\(t.name)'"))
        #expect(!fileExists(dir.file("x.safetensors")))

        // A damaged manifest is "the manifest".
        bytes = readFile(out)
        bytes[bytes.count - LatteLayout.trailerSize - 3] ^= 0x01
        writeFile(out, bytes)
        let manifest = try run("verify \(out)")
        #expect(manifest.status == 1 && manifest.stderr.contains("the manifest"), "\(manifest.stderr)")
        #expect(try run("inspect \(out)").status == 1)
    }

    /// Ctrl-C during a convert leaves neither the output nor a temporary file.
    @Test func interruptedConvertLeavesNothing() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        // 48 MiB of weight-like BF16 in 24 tensors: seconds of work for a debug build.
        var tensors: [SyntheticTensor] = []
        let base = makeBytes(.bf16, count: 1 << 20, pattern: .weights, seed: 1)
        for i in 0 ..< 24 { tensors.append(SyntheticTensor(name: "w\(i)", dtype: .bf16, shape: [1 << 20], bytes: base)) }
        writeSafetensors(dir.file("big.safetensors"), tensors)
        let script = """
        \(CLI.executable.path) convert \(dir.file("big.safetensors")) -o \(dir.file("out.latte")) --no-progress --threads 1 2>/dev/null &
        pid=$!
        sleep 0.5
        kill -INT $pid
        wait $pid
        echo $? > \(dir.file("status"))
        """
        writeFile(dir.file("run.sh"), Array(script.utf8))
        _ = system("sh \(dir.file("run.sh"))")
        let status = Int(String(decoding: readFile(dir.file("status")), as: UTF8.self).split(separator: "\n").first ?? "") ?? -1
        if status == 0 {
            print("note: the convert finished before the interrupt; nothing to check")
            return
        }
        #expect(status == 130, "killed by SIGINT")
        #expect(dir.entries == ["big.safetensors", "run.sh", "status"])
    }
}

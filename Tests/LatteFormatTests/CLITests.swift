#if canImport(Glibc)
import Glibc
#endif
import Testing
import LatteCore
@testable import LatteFormat

/// The `latte` binary's contract for convert/export/verify/inspect (docs: docs/CLI.md):
/// exit codes 0/1/64, one `error:` line naming the file and the tensor or the manifest.
@Suite struct CLITests {
    /// The binary `swift build --build-tests` put beside the tests.
    static let binary: String? = {
        var root = #filePath
        for _ in 0 ..< 3 { root = String(root[..<root.lastIndex(of: "/")!]) }
        for candidate in [root + "/.build/debug/latte", root + "/.build/x86_64-unknown-linux-gnu/debug/latte",
                          root + "/.build/aarch64-unknown-linux-gnu/debug/latte"] where fileExists(candidate) {
            return candidate
        }
        return nil
    }()

    /// Runs the binary; returns the exit status and stderr.
    func run(_ args: String, dir: TempDir) -> (status: Int32, stderr: String, stdout: String) {
        let status = system("\(CLITests.binary!) \(args) >\(dir.file("stdout.txt")) 2>\(dir.file("stderr.txt"))")
        let code = (status >> 8) & 0xFF
        return (code, String(decoding: readFile(dir.file("stderr.txt")), as: UTF8.self),
                String(decoding: readFile(dir.file("stdout.txt")), as: UTF8.self))
    }

    @Test(.enabled(if: CLITests.binary != nil, "the latte binary is not under .build/debug")) func contract() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        writeSafetensors(dir.file("model.safetensors"), syntheticCheckpoint(), metadata: [("format", "pt")])
        let src = dir.file("model.safetensors"), out = dir.file("m.latte")

        #expect(run("convert \(src)", dir: dir).status == 64)
        #expect(run("convert \(src) -o \(out) --level 0", dir: dir).status == 64)
        #expect(run("convert \(src) -o \(out) --threads 0", dir: dir).status == 64)
        #expect(run("convert \(src) -o \(out) --chunk-size 12", dir: dir).status == 64)
        let missing = run("convert \(dir.file("nope.safetensors")) -o \(out)", dir: dir)
        #expect(missing.status == 1 && missing.stderr.hasPrefix("error: ") && missing.stderr.contains("nope.safetensors"))
        #expect(!fileExists(out))

        #expect(run("convert \(src) -o \(out) --no-progress --level 5 --threads 2", dir: dir).status == 0)
        let inspect = run("inspect \(out) --json", dir: dir)
        #expect(inspect.status == 0)
        let doc = try JSON.parse(inspect.stdout)
        #expect(doc["format"]?.stringValue == "latte")
        #expect(doc["tensors"]?.arrayValue?.first?["stored_bytes"]?.intValue != nil)
        #expect(run("inspect \(out)", dir: dir).stdout.contains("ratio"))

        let verify = run("verify \(out) --source \(src) --json", dir: dir)
        #expect(verify.status == 0)
        #expect((try? JSON.parse(verify.stdout))?["ok"] == .bool(true))
        #expect(run("export \(out) -o \(dir.file("back.safetensors"))", dir: dir).status == 0)
        #expect(run("verify \(out) --source \(dir.file("back.safetensors"))", dir: dir).status == 0)
        #expect(run("export \(out)", dir: dir).status == 64)
        #expect(run("export \(out) -o \(dir.file("t.safetensors")) --threads 0", dir: dir).status == 64)

        // One flipped byte in the first tensor's first chunk: verify names the tensor.
        let file = try LatteFile(path: out)
        let t = file.tensors.first { !$0.chunks.isEmpty }!
        var bytes = readFile(out)
        bytes[t.chunks[0].offset + 1] ^= 0x40
        writeFile(out, bytes)
        let bad = run("verify \(out)", dir: dir)
        #expect(bad.status == 1)
        #expect(bad.stderr.hasPrefix("error: \(out): ") && bad.stderr.contains("tensor '\(t.name)'"), "\(bad.stderr)")
        let badExport = run("export \(out) -o \(dir.file("x.safetensors"))", dir: dir)
        #expect(badExport.status == 1 && badExport.stderr.contains("tensor '\(t.name)'"))
        #expect(!fileExists(dir.file("x.safetensors")))

        // A damaged manifest is "the manifest".
        bytes = readFile(out)
        bytes[bytes.count - LatteLayout.trailerSize - 3] ^= 0x01
        writeFile(out, bytes)
        let manifest = run("verify \(out)", dir: dir)
        #expect(manifest.status == 1 && manifest.stderr.contains("the manifest"), "\(manifest.stderr)")
        #expect(run("inspect \(out)", dir: dir).status == 1)
    }

    /// Ctrl-C during a convert leaves neither the output nor a temporary file.
    @Test(.enabled(if: CLITests.binary != nil, "the latte binary is not under .build/debug")) func interruptedConvertLeavesNothing() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        // 48 MiB of weight-like BF16 in 24 tensors: seconds of work for a debug build.
        var tensors: [SyntheticTensor] = []
        let base = makeBytes(.bf16, count: 1 << 20, pattern: .weights, seed: 1)
        for i in 0 ..< 24 { tensors.append(SyntheticTensor(name: "w\(i)", dtype: .bf16, shape: [1 << 20], bytes: base)) }
        writeSafetensors(dir.file("big.safetensors"), tensors)
        let script = """
        \(CLITests.binary!) convert \(dir.file("big.safetensors")) -o \(dir.file("out.latte")) --no-progress --threads 1 2>/dev/null &
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

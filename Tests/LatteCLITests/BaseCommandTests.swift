import Foundation
import Testing
import LatteCore
import LatteReaders
import LatteTestSupport

/// `--base`: `convert` stores the tensors a base holds as references; `export`, `verify`,
/// `run` and `inspect` read them from the base; without it, or with a wrong one, one error
/// line names what is needed.
@Suite struct BaseCommandTests {
    /// The k2 fixture model, and a base of its frozen VLM tensors (`model.*`) under other
    /// names (`vlm.*`, as another checkpoint would call them): the base matches by content.
    static func files(_ dir: URL) throws -> (model: String, base: String) {
        let model = CLI.fixture("models/k2")
        let c = try CheckpointReader.open(path: model + "/model.safetensors")
        let vlm = try c.tensors.filter { $0.name.hasPrefix("model.") }.map { e in
            SyntheticTensor(name: "vlm." + e.name.dropFirst("model.".count), dtype: e.dtype, shape: e.shape,
                            bytes: try c.bytes(of: e).withUnsafeBytes { Array($0) })
        }
        let base = dir.appendingPathComponent("base.safetensors").path
        writeSafetensors(base, vlm)
        return (model, base)
    }

    @Test func convertExportVerifyInspectAndRunThroughTheBase() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (model, base) = try Self.files(dir)
        let latte = dir.appendingPathComponent("m.latte").path, back = dir.appendingPathComponent("back.safetensors").path
        let convert = try CLI.run(["convert", model, "--base", base, "-o", latte])
        #expect(convert.status == 0, "\(convert.stderr)")
        let baseCount = try CheckpointReader.open(path: base).tensors.count
        #expect(convert.stderr.contains("base \(base): \(baseCount) tensors ("), "\(convert.stderr)")

        // Without the base: one line naming it, exit 1, nothing written.
        let bare = try CLI.run(["export", latte, "-o", back])
        #expect(bare.status == 1)
        let lines = bare.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("error: \(latte): tensor 'model.") && lines[0].contains("is stored in the base; pass --base (the base is base.safetensors ("),
                "\(bare.stderr)")
        #expect(!FileManager.default.fileExists(atPath: back))
        for args in [["verify", latte], ["run", latte, "--inputs", model + "/inputs.safetensors", "-o", dir.appendingPathComponent("o.safetensors").path, "--steps", "2"]] {
            let r = try CLI.run(args)
            #expect(r.status == 1 && r.stderr.split(separator: "\n").count == 1 && r.stderr.contains("pass --base"), "\(args[0]): \(r.stderr)")
        }

        // With it: bit-exact export, verify and a run equal to the source's.
        let export = try CLI.run(["export", latte, "--base", base, "-o", back])
        #expect(export.status == 0, "\(export.stderr)")
        #expect(FileManager.default.contents(atPath: back) == FileManager.default.contents(atPath: model + "/model.safetensors"))
        let verify = try CLI.run(["verify", latte, "--base", base, "--source", model + "/model.safetensors"])
        #expect(verify.status == 0, "\(verify.stderr)")
        let outA = dir.appendingPathComponent("a.safetensors").path, outB = dir.appendingPathComponent("b.safetensors").path
        let runA = try CLI.run(["run", latte, "--base", base, "--inputs", model + "/inputs.safetensors", "-o", outA, "--steps", "2"])
        let runB = try CLI.run(["run", model, "--inputs", model + "/inputs.safetensors", "-o", outB, "--steps", "2"])
        #expect(runA.status == 0 && runB.status == 0, "\(runA.stderr)\(runB.stderr)")
        #expect(FileManager.default.contents(atPath: outA) == FileManager.default.contents(atPath: outB))

        // inspect lists everything without the base, marking references; --base checks them.
        let inspect = try CLI.run(["inspect", "--json", latte])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        let doc = try JSON.parse(inspect.stdout)
        let tensors = doc["tensors"]?.arrayValue ?? []
        #expect(tensors.filter { $0["base"] != nil }.count == baseCount)
        #expect(tensors.first { $0["name"]?.stringValue == "model.norm.weight" }?["base"]?.stringValue == "vlm.norm.weight")
        #expect(tensors.allSatisfy { $0["delta_chunks"]?.intValue != nil })
        #expect(doc["base"]?["tensors"]?.intValue == baseCount)
        #expect(try CLI.validate(json: inspect.stdout, schema: "inspect.schema.json") == nil)
        let table = try CLI.run(["inspect", latte])
        #expect(table.status == 0 && table.stdout.contains(" base\n") && table.stdout.contains("stored in the base"), "\(table.stdout)")
        let checked = try CLI.run(["inspect", "--json", "--no-tensors", latte, "--base", base])
        #expect(checked.status == 0, "\(checked.stderr)")
        #expect(try JSON.parse(checked.stdout)["base_checked"]?.intValue == baseCount)
    }

    @Test func aWrongBaseIsNamedWithBothHashes() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (model, base) = try Self.files(dir)
        let latte = dir.appendingPathComponent("m.latte").path
        #expect(try CLI.run(["convert", model, "--base", base, "-o", latte]).status == 0)
        // The same base with one tensor's first byte changed, and one without a tensor.
        let c = try CheckpointReader.open(path: base)
        var tensors = try c.tensors.map { e in
            SyntheticTensor(name: e.name, dtype: e.dtype, shape: e.shape, bytes: try c.bytes(of: e).withUnsafeBytes { Array($0) })
        }
        let k = tensors.firstIndex { $0.name == "vlm.norm.weight" }!
        tensors[k].bytes[0] ^= 1
        let wrong = dir.appendingPathComponent("wrong.safetensors").path
        writeSafetensors(wrong, tensors)
        for args in [["export", latte, "-o", dir.appendingPathComponent("x.safetensors").path], ["verify", latte], ["inspect", latte]] {
            let r = try CLI.run(args + ["--base", wrong])
            #expect(r.status == 1, "\(args[0])")
            #expect(r.stderr.contains("tensor 'model.norm.weight' is stored in the base as 'vlm.norm.weight', and the base's differs"), "\(r.stderr)")
            // Both hashes, 16 hex digits each, and different.
            let hashes = r.stderr.split(separator: " ").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: ",\n")) }
                .filter { $0.count == 16 && $0.allSatisfy(\.isHexDigit) }
            #expect(hashes.count == 2 && hashes[0] != hashes[1], "\(r.stderr)")
        }
        tensors.remove(at: k)
        let lacking = dir.appendingPathComponent("lacking.safetensors").path
        writeSafetensors(lacking, tensors)
        let r = try CLI.run(["export", latte, "--base", lacking, "-o", dir.appendingPathComponent("x.safetensors").path])
        #expect(r.status == 1)
        #expect(r.stderr == "error: \(latte): tensor 'model.norm.weight' is stored in the base as 'vlm.norm.weight', which the base \(lacking) does not have\n")
    }
}

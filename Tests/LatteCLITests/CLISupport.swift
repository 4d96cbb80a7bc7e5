import Foundation
import LatteTestSupport

/// The CLI tests' handle on the built `latte` executable (`LatteExecutable`) and the
/// package's files.
enum CLI {
    typealias Result = ProcessResult

    static var executable: URL { URL(fileURLWithPath: LatteExecutable.path) }

    static let packageRoot = URL(fileURLWithPath: LatteTestSupport.packageRoot)

    static func fixture(_ relative: String) -> String { fixturePath(relative) }

    /// Runs latte with `args` (and `environment` added to ours), killed after `timeout`
    /// seconds (reported with `timedOut`).
    static func run(_ args: [String], environment: [String: String] = [:], timeout: Double = 120) throws -> Result {
        try LatteExecutable.run(args, environment: environment, timeout: timeout)
    }

    /// A fresh temporary folder, removed by the caller.
    static func tempDir() throws -> URL { URL(fileURLWithPath: TempDir().path) }

    /// Validates a JSON document against a schema in `schemas/` with python3's jsonschema.
    /// Returns nil when valid, the validator's message otherwise.
    static func validate(json: String, schema: String) throws -> String? {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let doc = dir.appendingPathComponent("doc.json")
        try json.write(to: doc, atomically: true, encoding: .utf8)
        let r = try runProcess("/usr/bin/env", ["python3", "-c", """
            import json, sys, jsonschema
            schema = json.load(open(sys.argv[1])); doc = json.load(open(sys.argv[2]))
            jsonschema.Draft202012Validator.check_schema(schema)
            errs = sorted(jsonschema.Draft202012Validator(schema).iter_errors(doc), key=str)
            print(errs[0].message if errs else "", end="")
            """, packageRoot.appendingPathComponent("schemas/" + schema).path, doc.path])
        guard r.status == 0 else { return "validator failed (is python3-jsonschema installed?)" }
        return r.stdout.isEmpty ? nil : r.stdout
    }
}

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs the built `latte` executable (it sits beside the test bundle in the build folder).
struct CLI {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var timedOut = false
    }

    static var executable: URL {
        let bundleDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for dir in [bundleDir, bundleDir.deletingLastPathComponent()] {
            let candidate = dir.appendingPathComponent("latte")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return packageRoot.appendingPathComponent(".build/debug/latte")
    }

    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func fixture(_ relative: String) -> String { packageRoot.appendingPathComponent("fixtures/" + relative).path }

    /// Runs latte with `args` (and `environment` added to ours). A run still going after
    /// `timeout` seconds is killed and reported with `timedOut`, so a hang fails its test
    /// instead of stopping the suite.
    static func run(_ args: [String], environment: [String: String] = [:], timeout: Double = 120) throws -> Result {
        let p = Process()
        p.executableURL = executable
        p.arguments = args
        if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        final class Flag: @unchecked Sendable { var set = false }
        let timedOut = Flag()
        let watchdog = DispatchWorkItem {
            timedOut.set = true
            kill(p.processIdentifier, SIGKILL)
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        // Read both pipes before waiting so a large output cannot block the child.
        final class Box: @unchecked Sendable { var data = Data() }
        let errBox = Box()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { errBox.data = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        let errData = errBox.data
        p.waitUntilExit()
        watchdog.cancel()
        return Result(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self), timedOut: timedOut.set)
    }

    /// A fresh temporary folder, removed by the caller.
    static func tempDir() throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("latte-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }

    /// Validates a JSON document against a schema in `schemas/` with python3's jsonschema.
    /// Returns nil when valid, the validator's message otherwise.
    static func validate(json: String, schema: String) throws -> String? {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let doc = dir.appendingPathComponent("doc.json")
        try json.write(to: doc, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", """
            import json, sys, jsonschema
            schema = json.load(open(sys.argv[1])); doc = json.load(open(sys.argv[2]))
            jsonschema.Draft202012Validator.check_schema(schema)
            errs = sorted(jsonschema.Draft202012Validator(schema).iter_errors(doc), key=str)
            print(errs[0].message if errs else "", end="")
            """, packageRoot.appendingPathComponent("schemas/" + schema).path, doc.path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { return "validator failed (is python3-jsonschema installed?)" }
        let msg = String(decoding: data, as: UTF8.self)
        return msg.isEmpty ? nil : msg
    }
}

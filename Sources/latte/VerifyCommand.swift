import ArgumentParser
import LatteCore
import LatteFormat
import LatteReaders
import LatteRuntime

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a .latte file: every tensor's checksum, optionally its bytes against the source, and its outputs against reference outputs.",
        discussion: """
        With --reference DIR (inputs.safetensors, expected.safetensors, optionally run.json with \
        steps and cfg_scale), or a reference embedded by `latte convert --reference`, the model is \
        run and each output compared: max absolute and relative error, pass or fail. An embedded \
        reference runs only within verify's work budget (2000 operations per model parameter, at \
        least 1e10): past it verify refuses, naming the cost; --allow-long-reference runs it anyway.
        """
    )

    @Argument(help: "The .latte file.")
    var input: String

    @Option(help: "The original checkpoint: every tensor must equal it byte for byte.")
    var source: String?

    @OptionGroup var base: BaseOption

    @Option(help: "A folder with inputs.safetensors and expected.safetensors (and run.json) to run and compare.")
    var reference: String?

    @Option(help: "Largest accepted max|actual - expected| / max|expected| per output.")
    var tolerance: Double = ReferenceCheck.defaultTolerance

    @Flag(help: "Skip the reference run even when the file embeds a reference.")
    var weightsOnly = false

    @Flag(help: "Run an embedded reference even when it costs more than verify's work budget.")
    var allowLongReference = false

    @Option(help: "Memory the reference run may use, e.g. 8G or 512M (default: twice the model's float32 weights plus 512 MiB, at most 3/4 of memory).")
    var memoryBudget: String?

    @Flag(help: "Print the machine-readable report.")
    var json = false

    @Flag(help: "No progress bars on stderr (there are none when stderr is not a terminal).")
    var noProgress = false

    func validate() throws {
        guard tolerance.isFinite, tolerance >= 0 else { throw ValidationError("--tolerance must be a non-negative number") }
        if weightsOnly && reference != nil { throw ValidationError("--weights-only and --reference exclude each other") }
    }

    func run() throws {
        let budget = try usageChecked { try parseMemoryBudget(memoryBudget) }
        try reportingErrors {
            let latte = try LatteFile(path: input, base: try base.open())
            try latte.requireBaseIfReferenced()
            let checkpoint = try source.map { try CheckpointReader.open(path: $0) }
            let checking = ProgressBar.forCommand(.bytes, disabled: noProgress)
            let report = LatteVerifier.verify(latte, source: checkpoint, progress: checking?.handler)
            checking?.erase()
            var results: [ReferenceResult] = []
            var origin: String?
            if report.ok && !weightsOnly {
                let set = try reference.map { try ReferenceSet.load(folder: $0) } ?? ReferenceSet.load(embeddedIn: latte)
                if let set {
                    origin = set.origin
                    // An embedded reference runs within the work budget unless asked otherwise;
                    // one named on the command line was asked for.
                    let work: WorkBudget = set.isEmbedded && !allowLongReference ? .automatic : .unlimited
                    let running = ProgressBar.forCommand(.steps, disabled: noProgress)
                    defer { running?.erase() }
                    results = try ReferenceCheck.run(model: try ModelLoader.open(latte), reference: set, tolerance: tolerance,
                                                     workBudget: work, memoryBudget: budget, progress: running?.handler)
                }
            }
            let outputsOK = results.allSatisfy(\.passed)
            if json {
                var doc = report.json
                if case var .object(members) = doc {
                    members.append(("reference", origin.map { o in .object([
                        ("origin", .string(o)),
                        ("outputs", .array(results.map(\.json))),
                    ]) } ?? .null))
                    doc = .object(members)
                }
                writeOut(doc.serialized(pretty: true) + "\n")
            } else {
                if report.ok {
                    writeOut("ok: \(report.tensors) tensors, \(formatBytes(report.bytes)) verified\(source == nil ? "" : " against \(source!)")\n")
                }
                if let origin {
                    writeOut("reference: \(origin)\n")
                    var rows = [["output", "max abs error", "relative error", "tolerance", "result"]]
                    for r in results {
                        rows.append([r.name, formatScientific(r.comparison.maxAbsError), formatScientific(r.comparison.relativeError),
                                     formatScientific(r.tolerance), r.passed ? "pass" : "FAIL"])
                    }
                    writeOut(renderTable(rows, rightAligned: [1, 2, 3]))
                }
            }
            for f in report.failures { printError("error: \(f.message)") }
            for r in results where !r.passed {
                printError("error: \(input): output '\(r.name)' differs from the reference: relative error \(formatScientific(r.comparison.relativeError)) > \(formatScientific(r.tolerance))")
            }
            if !report.ok || !outputsOK { throw ExitCode(1) }
        }
    }
}

import ArgumentParser
import LatteCore
import LatteFormat

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a .latte file's tensors back out as safetensors, bit-exact."
    )

    @Argument(help: "The .latte file.")
    var input: String

    @Option(name: .shortAndLong, help: "The .safetensors file to write.")
    var output: String

    @OptionGroup var base: BaseOption

    @Option(help: "Decompression threads (default: every core).")
    var threads: Int?

    @Flag(help: "No progress bar on stderr (there is none when stderr is not a terminal).")
    var noProgress = false

    func validate() throws {
        if let threads, threads < 1 || threads > 1024 { throw ValidationError("--threads must be between 1 and 1024") }
    }

    func run() throws {
        try reportingErrors {
            InterruptCleanup.install()
            let latte = try LatteFile(path: input, base: try base.open())
            try latte.requireBaseIfReferenced()
            if let threads { latte.threads = threads }
            let bar = ProgressBar.forCommand(.bytes, disabled: noProgress)
            defer { bar?.erase() }
            try SafetensorsExport.export(latte, to: output, progress: bar?.handler)
        }
    }
}

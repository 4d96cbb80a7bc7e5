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

    func run() throws {
        try reportingErrors {
            InterruptCleanup.install()
            let latte = try LatteFile(path: input)
            try SafetensorsExport.export(latte, to: output)
        }
    }
}

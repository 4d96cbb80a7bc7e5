// swift-tools-version: 6.1
// libFuzzer targets over latte's parsers, one executable per parser. Built by `make fuzz`
// with `-sanitize=fuzzer,address` and the lld linker (toolset.json: gold crashes on
// libFuzzer's debug info).
import PackageDescription

let latte = { (product: String) in Target.Dependency.product(name: product, package: "latte") }

let package = Package(
    name: "latte-fuzz",
    dependencies: [.package(name: "latte", path: "..")],
    targets: [
        .target(name: "FuzzSupport"),
        .executableTarget(name: "FuzzSafetensors", dependencies: ["FuzzSupport", latte("LatteReaders")]),
        .executableTarget(name: "FuzzJSON", dependencies: ["FuzzSupport", latte("LatteCore"), latte("LatteJSONOracle")]),
        .executableTarget(name: "FuzzShardIndex", dependencies: ["FuzzSupport", latte("LatteReaders")]),
        .executableTarget(name: "FuzzZip", dependencies: ["FuzzSupport", latte("LatteReaders")]),
        .executableTarget(name: "FuzzPickle", dependencies: ["FuzzSupport", latte("LatteReaders")]),
        .executableTarget(name: "FuzzTorchFile", dependencies: ["FuzzSupport", latte("LatteCore"), latte("LatteReaders")]),
        .executableTarget(name: "FuzzRANS", dependencies: ["FuzzSupport", latte("LatteFormat")]),
        .executableTarget(name: "FuzzLatteFile", dependencies: ["FuzzSupport", latte("LatteCore"), latte("LatteFormat"), latte("LatteC")]),
        .executableTarget(name: "FuzzMapping", dependencies: ["FuzzSupport", latte("LatteCore"), latte("LatteMapper")]),
        .executableTarget(name: "FuzzModelConfig", dependencies: ["FuzzSupport", latte("LatteCore"), latte("LatteMapper")]),
        // Structure-aware targets (custom mutators, issue 10): the .latte manifest and payloads,
        // generated torch.save files.
        .executableTarget(name: "FuzzLatteStructure", dependencies: ["FuzzSupport", latte("LatteCore"), latte("LatteFormat"), latte("LatteReaders")]),
        .executableTarget(name: "FuzzRunPath", dependencies: ["FuzzSupport", latte("LatteCore"), latte("LatteMapper"), latte("LatteReaders"), latte("LatteRuntime")]),
        .executableTarget(name: "FuzzTorchStructure", dependencies: ["FuzzSupport", latte("LatteCore"), latte("LatteFormat"), latte("LatteReaders")]),
    ]
)

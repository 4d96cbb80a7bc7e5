// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "latte",
    products: [
        .executable(name: "latte", targets: ["latte"]),
        .library(name: "LatteCore", targets: ["LatteCore"]),
        .library(name: "LatteReaders", targets: ["LatteReaders"]),
        .library(name: "LatteMapper", targets: ["LatteMapper"]),
        .library(name: "LatteRuntime", targets: ["LatteRuntime"]),
        .library(name: "LatteFormat", targets: ["LatteFormat"]),
        // json-c behind LatteCore's JSON types: the differential oracle of the fuzz target and tests.
        .library(name: "LatteJSONOracle", targets: ["LatteJSONOracle"]),
        // liblatte.so: the C ABI of include/latte.h (docs/C-API.md), loaded by python/.
        .library(name: "latte-c", type: .dynamic, targets: ["LatteC"]),
        // The same, linked statically: the fuzz package calls the ABI's functions.
        .library(name: "LatteC", targets: ["LatteC"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.0"),
    ],
    targets: [
        // C libraries, reached through pkg-config; `make deps` installs the Debian -dev packages.
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CJSONC", pkgConfig: "json-c", providers: [.apt(["libjson-c-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),  // SHA-256 (EVP)
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),

        // System calls (retrying reads and writes, page advice, core count, clock, the lock) and
        // the C library, re-exported: Linux only. Internal (`package` access, no product).
        .target(name: "LatteSystem"),
        // The tensor model, memory maps, JSON and the errors every module shares.
        .target(name: "LatteCore", dependencies: ["LatteSystem", "CCrypto"]),
        // json-c read into `JSONValue`: an independent parser to check ours against (never used to read files).
        .target(name: "LatteJSONOracle", dependencies: ["LatteCore", "CJSONC"]),
        // Checkpoint readers: safetensors, PyTorch zip/legacy/export, sharded indexes.
        .target(name: "LatteReaders", dependencies: ["LatteCore", "LatteSystem"]),
        // The timestep-expert mapper: config, layers to groups, residual-attention gates.
        .target(name: "LatteMapper", dependencies: ["LatteCore"]),
        // The `.latte` container: writer, reader, codecs, checksums, safetensors export.
        .target(name: "LatteFormat", dependencies: ["LatteCore", "LatteReaders", "LatteSystem", "CZstd", "CLatteRANS"]),
        // The rANS plane codec's hot loops in C: AVX2 decoding, 8 lanes per instruction.
        .target(name: "CLatteRANS"),
        // Elementwise float kernels (exp-based activations, softmax) in C, vectorized by clang.
        .target(name: "CLatteKernels"),
        // The LaTtE-Flow runtime: context prefill, group-lazy timestep experts, Euler sampling.
        .target(name: "LatteRuntime", dependencies: ["LatteCore", "LatteReaders", "LatteMapper", "LatteSystem", "COpenBLAS", "CLatteKernels", "LatteFormat"]),
        // The C ABI over LatteFormat's reader and writer (include/latte.h): no Swift type crosses it.
        .target(name: "LatteC", dependencies: ["LatteCore", "LatteFormat", "LatteMapper", "LatteSystem"]),
        // The command line: thin, all logic lives in the libraries above.
        .executableTarget(
            name: "latte",
            dependencies: [
                "LatteCore", "LatteReaders", "LatteMapper", "LatteFormat", "LatteRuntime", "LatteSystem",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // What the test targets share: temporary folders, safetensors builders, fixture paths,
        // running the built `latte`.
        .target(name: "LatteTestSupport", dependencies: ["LatteCore", "LatteReaders", "LatteMapper"], path: "Tests/LatteTestSupport"),
        .testTarget(name: "LatteCoreTests", dependencies: [
            "LatteCore", "LatteJSONOracle", "LatteTestSupport", .product(name: "PropertyBased", package: "swift-property-based"),
        ]),
        .testTarget(name: "LatteSystemTests", dependencies: ["LatteSystem"]),
        .testTarget(name: "LatteReadersTests", dependencies: [
            "LatteReaders", "LatteCore", "LatteTestSupport", .product(name: "PropertyBased", package: "swift-property-based"),
        ]),
        .testTarget(name: "LatteMapperTests", dependencies: ["LatteMapper", "LatteCore", "LatteReaders", "LatteTestSupport"]),
        .testTarget(name: "LatteRuntimeTests", dependencies: [
            "LatteRuntime", "LatteCore", "LatteReaders", "LatteMapper", "LatteFormat", "CLatteKernels", "LatteTestSupport",
        ]),
        .testTarget(name: "LatteFormatTests", dependencies: [
            "LatteFormat", "LatteCore", "LatteReaders", "LatteSystem", "LatteTestSupport",
            .product(name: "PropertyBased", package: "swift-property-based"),
        ]),
        // End-to-end: runs the built `latte` executable as users do.
        .testTarget(name: "LatteCLITests", dependencies: [
            "LatteCore", "LatteReaders", "LatteMapper", "LatteFormat", "LatteTestSupport", "latte",
        ]),
    ]
)

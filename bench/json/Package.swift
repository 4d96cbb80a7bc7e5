// swift-tools-version: 6.1
// Parse time and peak memory of latte's JSON parser against json-c (the parser it replaced),
// on one document per run. See measure.sh.
import PackageDescription

let package = Package(
    name: "latte-json-bench",
    dependencies: [.package(name: "latte", path: "../..")],
    targets: [
        .executableTarget(name: "json-bench", dependencies: [
            .product(name: "LatteCore", package: "latte"), .product(name: "LatteJSONOracle", package: "latte"),
        ], path: "Sources"),
    ]
)

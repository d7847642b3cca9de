// swift-tools-version:6.1
import PackageDescription

/// libFuzzer targets for Vigil's parsers (docs/FUZZING.md). Built only by `scripts/fuzz`, never by
/// the root package: `swift build --package-path Fuzz -c release --sanitize=fuzzer --sanitize=address`.
/// Each executable defines `LLVMFuzzerTestOneInput` and no `main` (libFuzzer brings its own), hence
/// `-parse-as-library`.
let fuzzer: [SwiftSetting] = [.swiftLanguageMode(.v6), .unsafeFlags(["-parse-as-library"])]

let package = Package(
    name: "VigilFuzz",
    platforms: [.macOS(.v14)],
    dependencies: [.package(name: "Vigil", path: "..")],
    targets: [
        .target(
            name: "FuzzSupport",
            // The parsers and the configuration only: not VigilDaemon, whose store, journal and service
            // dependencies (GRDB, libsystemd, swift-log, swift-service-lifecycle) would all be built
            // with the sanitizers.
            dependencies: [
                .product(name: "VigilIngest", package: "Vigil"), .product(name: "VigilConfig", package: "Vigil"),
                .product(name: "VigilControl", package: "Vigil"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]),
        .executableTarget(name: "fuzz-json", dependencies: ["FuzzSupport"], swiftSettings: fuzzer),
        .executableTarget(name: "fuzz-sdtm", dependencies: ["FuzzSupport"], swiftSettings: fuzzer),
        .executableTarget(name: "fuzz-hl7", dependencies: ["FuzzSupport"], swiftSettings: fuzzer),
        .executableTarget(name: "fuzz-control", dependencies: ["FuzzSupport"], swiftSettings: fuzzer),
    ]
)

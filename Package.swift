// swift-tools-version:6.1
import PackageDescription

/// Vigil: safety-monitoring daemon for a clinical-trial site (see docs/ARCHITECTURE.md §2 for the module map).
let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "Vigil",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "vigild", targets: ["vigild"]),
        .executable(name: "vigilctl", targets: ["vigilctl"]),
        .executable(name: "vigil-bench", targets: ["vigil-bench"]),
        // For the fuzz targets in Fuzz/ (docs/FUZZING.md), which depend on this package by path.
        .library(name: "VigilIngest", targets: ["VigilIngest"]),
        .library(name: "VigilConfig", targets: ["VigilConfig"]),
        .library(name: "VigilControl", targets: ["VigilControl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.25.0"),
    ],
    targets: [
        .target(
            name: "VigilCore",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict),
        .target(name: "VigilIngest", dependencies: ["VigilCore"], swiftSettings: strict),
        .target(
            name: "VigilStore",
            dependencies: ["VigilCore", .product(name: "GRDB", package: "GRDB.swift"), .product(name: "GRDBSQLite", package: "GRDB.swift")],
            swiftSettings: strict),
        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]),
        .target(name: "VigilSystemd", dependencies: ["CSystemd"], swiftSettings: strict),
        /// The site configuration (`vigil.yaml`: loading, validation, `ingestOptions()`): what the
        /// daemon and its tools read from operators, with no store, journal or service machinery, so
        /// the fuzz targets (Fuzz/) and vigilctl build without GRDB, libsystemd or postgres-nio.
        .target(
            name: "VigilConfig",
            dependencies: ["VigilCore", "VigilIngest", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict),
        /// The control socket's protocol (docs/ARCHITECTURE.md §3.4): the request grammar and its
        /// permission table, the reply documents, their terminal renderings and the client. What
        /// vigilctl speaks; the daemon answers with the same types.
        .target(name: "VigilControl", dependencies: ["VigilCore"], swiftSettings: strict),
        /// The outbox directory (docs/ARCHITECTURE.md §3.1) and the relay that hands its mail to
        /// sendmail: shared by the daemon, which writes it, and `vigilctl relay`, which drains it.
        .target(name: "VigilOutbox", swiftSettings: strict),
        /// The trial-wide tier (docs/ARCHITECTURE.md §6): a site's replication to the central
        /// PostgreSQL, the trial state every site follows, and the central evaluator of pooled rules.
        .target(
            name: "VigilCentral",
            dependencies: [
                "VigilCore", "VigilConfig", "VigilControl", "VigilStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),
        .target(
            name: "VigilDaemon",
            dependencies: [
                "VigilCore", "VigilIngest", "VigilConfig", "VigilControl", "VigilOutbox", "VigilStore", "VigilSystemd", "VigilCentral",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "vigild",
            dependencies: ["VigilDaemon", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict),
        .executableTarget(
            name: "vigilctl",
            // Not VigilDaemon: vigilctl links neither GRDB, libsystemd nor postgres-nio.
            dependencies: ["VigilCore", "VigilIngest", "VigilConfig", "VigilControl", "VigilOutbox", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict),
        .executableTarget(
            name: "vigil-bench",
            dependencies: [
                "vigild", "vigilctl", "VigilConfig", "VigilControl", "VigilCore", "VigilDaemon", "VigilIngest", "VigilOutbox", "VigilStore", "VigilSystemd",
                .product(name: "ArgumentParser", package: "swift-argument-parser"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .target(name: "VigilTestSupport", dependencies: ["VigilSystemd"], path: "Tests/VigilTestSupport", swiftSettings: strict),
        .testTarget(name: "VigilCoreTests", dependencies: ["VigilCore"], swiftSettings: strict),
        .testTarget(name: "VigilIngestTests", dependencies: ["VigilIngest"], swiftSettings: strict),
        .testTarget(name: "VigilStoreTests", dependencies: ["VigilStore"], swiftSettings: strict),
        .testTarget(name: "VigilSystemdTests", dependencies: ["VigilSystemd", "VigilTestSupport"], swiftSettings: strict),
        .testTarget(name: "VigilDaemonTests", dependencies: ["VigilConfig", "VigilControl", "VigilOutbox", "VigilDaemon", "VigilTestSupport", .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["VigilCore", "VigilControl", "VigilOutbox", "VigilDaemon", "VigilTestSupport", "vigild", "vigilctl"],
            swiftSettings: strict),
    ]
)

import XCTest

/// What the store tests share: a fresh directory per test for the SQLite files, removed afterwards,
/// and a fixed reference time.
class StoreTestCase: XCTestCase {
    var directory = ""
    let t0 = Date(timeIntervalSince1970: 1_795_400_000)

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "vigil-store-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }
}

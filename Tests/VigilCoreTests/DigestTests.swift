import Foundation
import XCTest
import VigilCore

/// The ledger keys files and records by their SHA-256 in lower-case hex; the hex is written by hand.
final class DigestTests: XCTestCase {
    /// Known answers from FIPS 180-2, appendix B.1 ("abc"), and of the empty message.
    func testHexOfKnownDigests() {
        XCTAssertEqual(Digest.sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(Digest.sha256Hex(Data()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }
}

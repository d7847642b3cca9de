import Foundation
import XCTest
import VigilCore

/// `ObservationValue.format` is in alert texts and in alert ids' inputs; its fast path must give what
/// "%.3f" without trailing zeros gives, for every value.
final class ValueFormatTests: XCTestCase {
    func reference(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e12 { return String(Int64(value)) }
        var text = String(format: "%.3f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }

    func testFastPathMatchesPrintfRounding() {
        var values: [Double] = [4.5, 0.1, 0.2, 2.22, 37.85, -0.5, 1e-5, 0.0004, 0.0005, 0.0015, 2.0005, 1.2345, 99.9999, 1e12 + 0.5, 123456.789,
                                .nan, .infinity, -.infinity, 0.30000000000000004, 1.0 / 3.0]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20000 {
            let magnitude = Double.random(in: -4...7, using: &generator)
            values.append(pow(10, magnitude) * (Bool.random(using: &generator) ? 1 : -1))
            values.append((Double.random(in: 0...500, using: &generator) * 1000).rounded() / 1000)  // three decimals, as labs send
            values.append(Double.random(in: -0.01...0.01, using: &generator))  // near zero, where printf keeps a "-0"
            values.append((Double.random(in: 0...500, using: &generator) * 1000).rounded() / 1000 + 0.0005)  // on a tie of the third decimal
        }
        for value in values {
            XCTAssertEqual(ObservationValue.format(value), reference(value), "\(value)")
        }
    }
}

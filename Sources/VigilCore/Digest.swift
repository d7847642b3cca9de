import Crypto
import Foundation

/// SHA-256 helpers shared by the file ledger, record amendments and deterministic alert ids.
public enum Digest {
    public static func sha256Hex(_ data: some DataProtocol) -> String {
        hex(SHA256.hash(data: data))
    }

    /// Lower-case hex of a digest, written straight into the string's storage: a string per byte
    /// joined together would allocate for every byte of every record's content hash.
    static func hex(_ digest: SHA256.Digest) -> String {
        let digits: StaticString = "0123456789abcdef"
        return String(unsafeUninitializedCapacity: SHA256.byteCount * 2) { buffer in
            digits.withUTF8Buffer { digits in
                var index = 0
                for byte in digest {
                    buffer[index] = digits[Int(byte >> 4)]
                    buffer[index + 1] = digits[Int(byte & 0x0F)]
                    index += 2
                }
                return index
            }
        }
    }

    public static func sha256Hex(_ text: String) -> String { sha256Hex(Data(text.utf8)) }

    /// Stable content hash of a record: sorted-key JSON, so the same content always hashes the same.
    public static func contentHash(of record: Record) throws -> String {
        sha256Hex(try canonicalJSON(record))
    }

    /// The record as sorted-key JSON: its stored payload and the input of its content hash. Throws for
    /// a value JSON cannot hold (a non-finite number); the parsers refuse those, so a throw here means
    /// a parser let one through, and the file fails loudly instead of storing an empty payload.
    public static func canonicalJSON(_ record: Record) throws -> Data {
        if let bytes = try CanonicalJSONWriter.encode(record) { return Data(bytes) }
        return try canonicalEncoder.encode(record)
    }

    /// The definition of the canonical JSON, which `CanonicalJSONWriter` reproduces; configured once.
    static let canonicalEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = ISO8601Coding.encodingStrategy
        return encoder
    }()
}

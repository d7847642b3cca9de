import Foundation
import FuzzSupport
import VigilIngest

/// JSON / NDJSON records (docs/ARCHITECTURE.md §3.2) through `JSONRecordParser`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let result = JSONRecordParser(options: FuzzSupport.options).parse(Data(FuzzSupport.bytes(data, size)))
    FuzzSupport.check(result, locatedBy: \.line)
    return 0
}

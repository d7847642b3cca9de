import Foundation
import FuzzSupport
import VigilIngest

/// HL7 v2 files (ORU^R01, ADT^A02/A03, MLLP framing, batches) through `HL7Parser`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHL7(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let result = HL7Parser(options: FuzzSupport.options).parse(Data(FuzzSupport.bytes(data, size)))
    FuzzSupport.check(result, locatedBy: \.segment)
    return 0
}

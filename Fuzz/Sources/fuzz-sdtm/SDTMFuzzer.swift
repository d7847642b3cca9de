import Foundation
import FuzzSupport
import VigilIngest

/// SDTM CSV exports through `SDTMParser` (and so `CSVReader`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSDTM(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let result = SDTMParser(options: FuzzSupport.options).parse(Data(FuzzSupport.bytes(data, size)))
    FuzzSupport.check(result, locatedBy: \.line)
    return 0
}

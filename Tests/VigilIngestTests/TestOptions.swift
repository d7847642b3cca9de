import Foundation
@testable import VigilIngest

/// The options the parser tests share: LYSYME subject ids, Paris time, a small mapping table.
enum TestOptions {
    static let mapping = CodeMapping(
        tables: [
            .loinc: ["2524-7": "lactate", "8867-4": "heart_rate", "8480-6": "systolic_bp", "600-7": "blood_culture", "777-3": "platelets", "2160-0": "creatinine", "3094-0": "urea_nitrogen"],
            .sdtm: ["LACTICAC": "lactate", "CREAT": "creatinine", "PLAT": "platelets", "SYSBP": "systolic_bp", "PULSE": "heart_rate", "BUN": "urea_nitrogen"],
            .local: ["LACT": "lactate"],
        ],
        ignored: [.loinc: ["85353-1"], .sdtm: ["WEIGHT"]])

    static func options(hl7: HL7Options = HL7Options(subjectAuthority: "LYSYME", subjectMap: ["900123456": "LYS-01-009"])) -> IngestOptions {
        try! IngestOptions(subjectPattern: "^LYS-[0-9]{2}-[0-9]{3}$", siteTimeZone: TimeZone(identifier: "Europe/Paris")!, mapping: mapping, hl7: hl7)
    }
}

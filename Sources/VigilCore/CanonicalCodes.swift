import Foundation

/// The observation codes Vigil understands (docs/ARCHITECTURE.md §3.2), each with its canonical unit and the
/// units it accepts. A unit outside this table is refused, never guessed.
public enum CanonicalCodes {
    /// What kind of value a code carries.
    public enum ValueKind: Sendable, Equatable {
        /// A number in the canonical `unit`.
        case numeric(unit: String)
        /// A text from a fixed vocabulary (nil: free text).
        case text(allowed: [String]?)
        /// true / false.
        case flag
    }

    /// One canonical code and what it carries.
    public struct Definition: Sendable {
        public let code: String
        public let kind: ValueKind
        /// Accepted unit spellings mapped to the conversion into the canonical unit; matched ignoring case.
        public let units: [String: UnitConversion]
        /// Physically possible bounds in the canonical unit; outside them a value is a typo or wrong unit.
        public let plausible: ClosedRange<Double>?
        /// The code the value is stored under; differs for input-only codes such as `urea_nitrogen`.
        public var storedAs: String { storedCode ?? code }
        let storedCode: String?

        init(code: String, kind: ValueKind, units: [String: UnitConversion], plausible: ClosedRange<Double>?, storedAs: String? = nil) {
            self.code = code
            self.kind = kind
            self.units = units
            self.plausible = plausible
            self.storedCode = storedAs
        }
    }

    static let perMinute: [String: UnitConversion] = [
        "/min": .identity, "min-1": .identity, "{breaths}/min": .identity, "{beats}/min": .identity,
        "bpm": .identity, "breaths/min": .identity, "beats/min": .identity, "1/min": .identity,
    ]
    static let mmolPerL: [String: UnitConversion] = ["mmol/L": .identity, "mEq/L": .identity]
    static let micromolPerL: [String: UnitConversion] = ["µmol/L": .identity, "umol/L": .identity, "μmol/L": .identity]
    // "G/L" (giga per litre, the French convention) lower-cases to "g/l"; for cell counts grams make no sense.
    // "GI/L" is the SAS/SDTM spelling of giga per litre (CDISC pilot LBSTRESU); "10E9/L" and "THOU/uL"
    // are common LIS spellings. Cells per microlitre ("/uL", UCUM "{cells}/uL" once its annotation is
    // dropped, "/mm3") are 10^6/L, a thousandth of 10^9/L.
    static let gigaPerL: [String: UnitConversion] = [
        "10^9/L": .identity, "10*9/L": .identity, "x10^9/L": .identity, "×10^9/L": .identity, "G/L": .identity,
        "GI/L": .identity, "10E9/L": .identity, "10^3/µL": .identity, "10^3/uL": .identity, "10*3/uL": .identity,
        "10^3/mm3": .identity, "K/uL": .identity, "K/µL": .identity, "THOU/uL": .identity, "/nL": .identity,
        "/uL": .scale(0.001), "/µL": .scale(0.001), "/mm3": .scale(0.001), "cells/uL": .scale(0.001),
    ]
    static let percent: [String: UnitConversion] = ["%": .identity]
    static let mmHg: [String: UnitConversion] = ["mmHg": .identity, "mm[Hg]": .identity]
    static let microgramPerKgMin: [String: UnitConversion] = [
        "µg/kg/min": .identity, "ug/kg/min": .identity, "mcg/kg/min": .identity,
    ]
    static let unitsPerL: [String: UnitConversion] = ["U/L": .identity, "IU/L": .identity, "[IU]/L": .identity]

    static func numeric(_ code: String, _ unit: String, _ units: [String: UnitConversion], _ plausible: ClosedRange<Double>?) -> Definition {
        Definition(code: code, kind: .numeric(unit: unit), units: units, plausible: plausible)
    }

    /// The full table; conversion factors are those of docs/ARCHITECTURE.md §3.2.
    public static let all: [String: Definition] = {
        let list: [Definition] = [
            numeric("respiratory_rate", "/min", perMinute, 0...100),
            numeric("spo2", "%", percent, 0...100),
            Definition(code: "oxygen", kind: .flag, units: [:], plausible: nil),
            // Invasive or non-invasive ventilation (SOFA respiration scores 3-4 only with it).
            Definition(code: "respiratory_support", kind: .flag, units: [:], plausible: nil),
            numeric("fio2", "fraction", ["fraction": .identity, "1": .identity, "{fraction}": .identity, "%": .scale(0.01)], 0.21...1.0),
            numeric("systolic_bp", "mmHg", mmHg, 0...350),
            numeric("diastolic_bp", "mmHg", mmHg, 0...250),
            numeric("mean_arterial_pressure", "mmHg", mmHg, 0...300),
            numeric("pao2", "mmHg", mmHg.merging(["kPa": .scale(7.50062)]) { a, _ in a }, 0...800),
            numeric("paco2", "mmHg", mmHg.merging(["kPa": .scale(7.50062)]) { a, _ in a }, 0...250),
            numeric("heart_rate", "/min", perMinute, 0...350),
            numeric("temperature", "°C", ["°C": .identity, "Cel": .identity, "degC": .identity, "C": .identity, "°F": .fahrenheit, "[degF]": .fahrenheit, "degF": .fahrenheit, "F": .fahrenheit], 20...46),
            Definition(code: "consciousness", kind: .text(allowed: ["A", "C", "V", "P", "U"]), units: [:], plausible: nil),
            numeric("gcs", "score", ["score": .identity, "{score}": .identity, "1": .identity], 3...15),
            numeric("wbc", "10^9/L", gigaPerL, 0...1000),
            numeric("neutrophils", "10^9/L", gigaPerL, 0...1000),
            numeric("platelets", "10^9/L", gigaPerL, 0...5000),
            numeric("bands", "%", percent, 0...100),
            // g/L → g/dL is an SI-prefix identity (÷10), not a clinical conversion.
            // Molar haemoglobin (mmol/L of the monomer, one haem each, as Dutch and Scandinavian
            // laboratories and the CDISC pilot report it): the monomer's molar mass is 16,114.5 g/mol
            // (a quarter of the tetramer's 64,458), so 1 mmol/L is 1.61145 g/dL.
            numeric("hemoglobin", "g/dL", ["g/dL": .identity, "g/L": .scale(0.1), "mmol/L": .scale(1.61145)], 0...30),
            numeric("bilirubin", "µmol/L", micromolPerL.merging(["mg/dL": .scale(17.1)]) { a, _ in a }, 0...1500),
            numeric("creatinine", "µmol/L", micromolPerL.merging(["mg/dL": .scale(88.4)]) { a, _ in a }, 0...5000),
            numeric("urea", "mmol/L", mmolPerL, 0...200),
            // Blood urea nitrogen, as US-style laboratories report it: stored as urea in mmol/L
            // (docs/ARCHITECTURE.md §3.2: BUN mg/dL × 0.357). Only mg/dL is accepted, since "urea mg/dL" and
            // "BUN mg/dL" differ by a factor of 2.14 and must never be confused.
            // In SI units urea nitrogen is reported as mmol/L of urea (the same molecules counted), so
            // mmol/L is taken as it is.
            Definition(code: "urea_nitrogen", kind: .numeric(unit: "mmol/L"), units: ["mg/dL": .scale(0.357), "mmol/L": .identity], plausible: 0...200, storedAs: "urea"),
            numeric("bicarbonate", "mmol/L", mmolPerL, 0...80),
            numeric("glucose", "mmol/L", mmolPerL.merging(["mg/dL": .scale(1 / 18.016)]) { a, _ in a }, 0...150),
            numeric("lactate", "mmol/L", mmolPerL.merging(["mg/dL": .scale(1 / 9.008)]) { a, _ in a }, 0...50),
            numeric("potassium", "mmol/L", mmolPerL, 0...15),
            numeric("sodium", "mmol/L", mmolPerL, 50...250),
            numeric("alt", "U/L", unitsPerL, 0...100_000),
            numeric("ast", "U/L", unitsPerL, 0...100_000),
            numeric("crp", "mg/L", ["mg/L": .identity, "mg/dL": .scale(10)], 0...1000),
            numeric("procalcitonin", "µg/L", ["µg/L": .identity, "ug/L": .identity, "ng/mL": .identity, "μg/L": .identity], 0...2000),
            Definition(code: "blood_culture", kind: .text(allowed: ["positive", "negative"]), units: [:], plausible: nil),
            numeric("bsa_detached", "%", percent, 0...100),
            numeric("norepinephrine", "µg/kg/min", microgramPerKgMin, 0...10),
            numeric("epinephrine", "µg/kg/min", microgramPerKgMin, 0...10),
            numeric("dopamine", "µg/kg/min", microgramPerKgMin, 0...100),
            numeric("dobutamine", "µg/kg/min", microgramPerKgMin, 0...100),
            numeric("urine_output", "mL/24 h", ["mL/24 h": .identity, "mL/24h": .identity, "mL/d": .identity, "mL/(24.h)": .identity], 0...20_000),
        ]
        return Dictionary(uniqueKeysWithValues: list.map { ($0.code, $0) })
    }()
}

extension CanonicalCodes {
    /// Reads a decimal number written with a point or a decimal comma ("4.5", "4,5", " -0,25 ").
    /// Refuses thousands separators and anything else that could be misread.
    /// Works on Unicode scalars, without Foundation's CharacterSet trimming and string replacing,
    /// which are costly on a path every numeric value takes: it trims what `.whitespaces` trims
    /// (tab and general category Zs) and accepts only ASCII digits, signs, `e`/`E` and one decimal
    /// separator.
    public static func parseNumber(_ text: String) -> Double? {
        func isSpace(_ scalar: Unicode.Scalar) -> Bool { scalar == "\t" || scalar.properties.generalCategory == .spaceSeparator }
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !isSpace($0) }), let last = scalars.lastIndex(where: { !isSpace($0) }) else { return nil }
        var ascii: [UInt8] = []
        ascii.reserveCapacity(16)
        var commas = 0
        var points = 0
        for scalar in scalars[first...last] {
            switch scalar {
            case "0"..."9", "+", "-", "e", "E": ascii.append(UInt8(scalar.value))
            case ".":
                points += 1
                ascii.append(0x2E)
            case ",":
                commas += 1
                ascii.append(0x2E)
            default: return nil
            }
        }
        guard commas <= 1, !(commas == 1 && points > 0), let value = Double(String(decoding: ascii, as: UTF8.self)), value.isFinite else { return nil }
        return value
    }
}

extension CanonicalCodes.Definition {
    /// The conversion for a unit spelling, ignoring case ("mg/dl" is "mg/dL"); the canonical unit itself always converts as identity.
    public func conversion(forUnit unit: String) -> UnitConversion? {
        if case .numeric(let canonical) = kind, unit == canonical { return .identity }
        return units.first { $0.key.caseInsensitiveCompare(unit) == .orderedSame }?.value
    }
}

/// How a value in an accepted unit becomes a value in the canonical unit.
public enum UnitConversion: Sendable, Equatable {
    case identity
    case scale(Double)
    case fahrenheit

    public func apply(_ value: Double) -> Double {
        switch self {
        case .identity: value
        case .scale(let factor): value * factor
        case .fahrenheit: (value - 32) * 5 / 9
        }
    }
}

/// Why a value could not be normalised.
public enum NormalisationError: Error, Equatable, Sendable {
    case unknownCode(String)
    case unknownUnit(code: String, unit: String, accepted: [String])
    case missingUnit(code: String, accepted: [String])
    case expectedNumber(code: String)
    case expectedText(code: String, allowed: [String]?)
    case expectedFlag(code: String)
    case notAllowed(code: String, value: String, allowed: [String])
    case implausible(code: String, value: Double, unit: String, range: ClosedRange<Double>)

    /// The field the error is about, for the located error report.
    public var field: String {
        switch self {
        case .unknownCode: "code"
        case .unknownUnit, .missingUnit: "unit"
        default: "value"
        }
    }

    public var message: String {
        switch self {
        case .unknownCode: "unknown observation code"
        case .unknownUnit(let code, _, _): "unknown unit for \(code)"
        case .missingUnit(let code, _): "missing unit for \(code)"
        case .expectedNumber(let code): "\(code) needs a numeric value"
        case .expectedText(let code, _): "\(code) needs a text value"
        case .expectedFlag(let code): "\(code) needs true or false"
        case .notAllowed(let code, _, _): "not a valid \(code) value"
        case .implausible(let code, _, _, _): "\(code) value outside the physically possible range"
        }
    }

    public var expected: String {
        switch self {
        case .unknownCode: "one of: " + CanonicalCodes.all.keys.sorted().joined(separator: ", ")
        case .unknownUnit(_, _, let accepted), .missingUnit(_, let accepted): "one of: " + accepted.joined(separator: ", ")
        case .expectedNumber: "a number"
        case .expectedText(_, let allowed): allowed.map { "one of: " + $0.joined(separator: ", ") } ?? "a text"
        case .expectedFlag: "true or false"
        case .notAllowed(_, _, let allowed): "one of: " + allowed.joined(separator: ", ")
        case .implausible(_, _, let unit, let range):
            "between \(ObservationValue.format(range.lowerBound)) and \(ObservationValue.format(range.upperBound)) \(unit)"
        }
    }
}

extension CanonicalCodes {
    /// A value in Vigil's terms: the code it is stored under, the value in the canonical unit, and
    /// the conversion used (to convert reference ranges the same way).
    public struct Normalised: Sendable, Equatable {
        public var code: String
        public var value: ObservationValue
        public var unit: String?
        public var conversion: UnitConversion
    }

    /// Turns a raw value and unit into the canonical value and unit for `code`.
    /// Numbers may arrive as text (`"4.5"`, or `"4,5"` with a decimal comma); flags as `true`/`false` or `"yes"`/`"no"`.
    /// `units` adds the site's aliases and conversions and UCUM annotations to the built-in spellings.
    public static func normalise(code: String, raw: ObservationValue, unit: String?, units: UnitTable = .standard) throws(NormalisationError) -> Normalised {
        guard let definition = all[code] else { throw .unknownCode(code) }
        switch definition.kind {
        case .numeric(let canonicalUnit):
            let accepted = definition.units.keys.sorted()
            let number: Double
            switch raw {
            case .number(let n): number = n
            case .text(let t):
                guard let n = parseNumber(t) else { throw .expectedNumber(code: code) }
                number = n
            case .flag: throw .expectedNumber(code: code)
            }
            guard number.isFinite else { throw .expectedNumber(code: code) }
            let given = (unit ?? "").trimmingCharacters(in: .whitespaces)
            let conversion: UnitConversion
            if given.isEmpty {
                // Scores and fractions have an implicit unit; anything measured must say its unit.
                guard ["score", "fraction"].contains(canonicalUnit) else { throw .missingUnit(code: code, accepted: accepted) }
                conversion = .identity
            } else if let found = units.conversion(of: given, for: definition) {
                conversion = found
            } else {
                throw .unknownUnit(code: code, unit: given, accepted: accepted)
            }
            let value = conversion.apply(number)
            if let range = definition.plausible, !range.contains(value) {
                throw .implausible(code: code, value: value, unit: canonicalUnit, range: range)
            }
            return Normalised(code: definition.storedAs, value: .number(value), unit: canonicalUnit, conversion: conversion)
        case .text(let allowed):
            guard case .text(let text) = raw else { throw .expectedText(code: code, allowed: allowed) }
            if let allowed {
                guard let match = allowed.first(where: { $0.caseInsensitiveCompare(text) == .orderedSame }) else {
                    throw .notAllowed(code: code, value: text, allowed: allowed)
                }
                return Normalised(code: definition.storedAs, value: .text(match), unit: nil, conversion: .identity)
            }
            return Normalised(code: definition.storedAs, value: .text(text), unit: nil, conversion: .identity)
        case .flag:
            let flag: Bool
            switch raw {
            case .flag(let f): flag = f
            case .text(let text) where ["true", "yes", "y", "1"].contains(text.lowercased()): flag = true
            case .text(let text) where ["false", "no", "n", "0"].contains(text.lowercased()): flag = false
            case .number(let n) where n == 0 || n == 1: flag = n == 1
            default: throw .expectedFlag(code: code)
            }
            return Normalised(code: definition.storedAs, value: .flag(flag), unit: nil, conversion: .identity)
        }
    }
}

/// How the coded terms of adverse-event and disposition exports read as Vigil's own: causality
/// (SDTM AEREL), severity as a CTCAE grade (AESEV, used when AETOXGR is absent), disposition
/// (DSDECOD) and, for a disposition term no table lists, what its category (DSCAT) makes of it.
///
/// The defaults below are the usual CRF and CDISC Controlled Terminology spellings; a site adds or
/// overrides entries in `vocabularies:` of vigil.yaml. Keys are matched ignoring case and the spaces
/// around them. A term no table lists never drops its record: the parser reads it conservatively
/// and raises a data-quality warning (docs/ARCHITECTURE.md §3.2).
public struct Vocabularies: Sendable, Equatable {
    /// Causality term → one of `Relatedness.order`, or `related` for a binary scale.
    public var causality: [String: String]
    /// Severity term → CTCAE grade.
    public var severityGrade: [String: Int]
    /// Disposition term → event kind (`death`, `withdrawal`, `enrolment`) or `none` (not a safety event).
    public var disposition: [String: String]
    /// Disposition category → what an unlisted term of that category is: an event kind or `none`.
    public var dispositionCategory: [String: String]

    /// What a causality term that no table lists is read as: related on a binary scale, which every
    /// relatedness floor short of `definite` counts (`Relatedness.atLeast`).
    public static let unlistedCausality = "related"
    /// The values a causality entry may name.
    public static let causalityValues = ["not_related", "unlikely", "possible", "probable", "definite", "related"]
    /// The values a disposition or category entry may name.
    public static let dispositionValues = ["death", "withdrawal", "enrolment", "none"]

    public init(causality: [String: String] = [:], severityGrade: [String: Int] = [:], disposition: [String: String] = [:],
                dispositionCategory: [String: String] = [:]) {
        func keyed<V>(_ table: [String: V]) -> [String: V] {
            Dictionary(table.map { (Self.key($0.key), $0.value) }, uniquingKeysWith: { _, last in last })
        }
        self.causality = keyed(causality)
        self.severityGrade = keyed(severityGrade)
        self.disposition = keyed(disposition)
        self.dispositionCategory = keyed(dispositionCategory)
    }

    /// The defaults with `site`'s entries added over them.
    public func merging(_ site: Vocabularies) -> Vocabularies {
        Vocabularies(causality: causality.merging(site.causality) { _, s in s },
                     severityGrade: severityGrade.merging(site.severityGrade) { _, s in s },
                     disposition: disposition.merging(site.disposition) { _, s in s },
                     dispositionCategory: dispositionCategory.merging(site.dispositionCategory) { _, s in s })
    }

    static func key(_ term: String) -> String { term.trimmingSpaces().uppercased() }

    public func causality(of term: String) -> String? { causality[Self.key(term)] }
    public func grade(ofSeverity term: String) -> Int? { severityGrade[Self.key(term)] }
    public func disposition(of term: String) -> String? { disposition[Self.key(term)] }
    public func disposition(ofCategory term: String) -> String? { dispositionCategory[Self.key(term)] }

    /// The built-in vocabularies.
    public static let standard = Vocabularies(
        // AEREL as CRFs and SDTM exports write it. REMOTE (CDISC pilot; Karch-Lasagna-style scales)
        // is read as unlikely.
        causality: [
            "NOT RELATED": "not_related", "UNRELATED": "not_related", "NONE": "not_related", "N": "not_related", "NO": "not_related",
            "UNLIKELY RELATED": "unlikely", "UNLIKELY": "unlikely", "REMOTE": "unlikely",
            "POSSIBLY RELATED": "possible", "POSSIBLE": "possible",
            "PROBABLY RELATED": "probable", "PROBABLE": "probable",
            "DEFINITELY RELATED": "definite", "DEFINITE": "definite", "CERTAIN": "definite",
            "RELATED": "related", "Y": "related", "YES": "related",
        ],
        // CTCAE v5.0 (NCI 2017), "Grades": 1 mild, 2 moderate, 3 severe or medically significant,
        // 4 life-threatening consequences, 5 death related to the adverse event.
        severityGrade: [
            "MILD": 1, "MODERATE": 2, "SEVERE": 3, "LIFE THREATENING": 4, "LIFE-THREATENING": 4, "FATAL": 5, "DEATH": 5,
        ],
        // DSDECOD: CDISC CT codelists NCOMPLT (reasons for discontinuation) and the protocol
        // milestones the CDISC pilot uses.
        disposition: [
            "DEATH": "death",
            "ADVERSE EVENT": "withdrawal", "WITHDRAWAL BY SUBJECT": "withdrawal", "WITHDRAWAL BY PARENT/GUARDIAN": "withdrawal",
            "PHYSICIAN DECISION": "withdrawal", "LOST TO FOLLOW-UP": "withdrawal", "WITHDRAWN": "withdrawal",
            "STUDY TERMINATED BY SPONSOR": "withdrawal", "SITE TERMINATED BY SPONSOR": "withdrawal", "LACK OF EFFICACY": "withdrawal",
            "PROTOCOL DEVIATION": "withdrawal", "PROTOCOL VIOLATION": "withdrawal", "NON-COMPLIANCE WITH STUDY DRUG": "withdrawal",
            "PREGNANCY": "withdrawal", "PROGRESSIVE DISEASE": "withdrawal", "RECOVERY": "withdrawal", "TECHNICAL PROBLEMS": "withdrawal",
            "ENROLLED": "enrolment", "RANDOMIZED": "enrolment",
            "COMPLETED": "none", "INFORMED CONSENT OBTAINED": "none", "SCREEN FAILURE": "none", "ELIGIBILITY CRITERIA MET": "none",
            "FINAL LAB VISIT": "none", "FINAL RETRIEVAL VISIT": "none",
        ],
        // DSCAT (CDISC CT codelist DSCAT): a disposition event that no table lists is an exit before
        // completion; milestones and other events are not safety events.
        dispositionCategory: [
            "DISPOSITION EVENT": "withdrawal", "PROTOCOL MILESTONE": "none", "OTHER EVENT": "none",
        ])
}

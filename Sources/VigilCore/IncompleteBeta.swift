import Foundation

/// The regularised incomplete beta function I_x(a, b), for Beta posteriors in toxicity monitoring.
///
/// Method: the continued fraction of DiDonato & Morris / Numerical Recipes (Press et al., 3rd ed.,
/// §6.4), evaluated with the modified Lentz algorithm, on the side of the symmetry
/// I_x(a, b) = 1 − I_{1−x}(b, a) where it converges fast (x < (a + 1)/(a + b + 2)); the prefactor
/// x^a (1−x)^b / (a B(a, b)) is computed in logarithms with `lgamma`. Iteration stops when a term
/// changes the fraction by less than 1e-15, which gives about 1e-13 absolute accuracy for the
/// parameters of a trial (a, b up to a few hundred); tests compare with SciPy's `betainc` to 1e-9.
public enum IncompleteBeta {
    public static func regularized(x: Double, a: Double, b: Double) -> Double {
        precondition(a > 0 && b > 0, "Beta parameters must be positive")
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let logPrefactor = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x)
        let prefactor = exp(logPrefactor)
        if x < (a + 1) / (a + b + 2) {
            return prefactor * continuedFraction(x: x, a: a, b: b) / a
        }
        return 1 - prefactor * continuedFraction(x: 1 - x, a: b, b: a) / b
    }

    static func continuedFraction(x: Double, a: Double, b: Double) -> Double {
        let tiny = 1e-300
        let qab = a + b, qap = a + 1, qam = a - 1
        var c = 1.0
        var d = 1 - qab * x / qap
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1...10_000 {
            let m = Double(m), m2 = 2 * m
            var aa = m * (b - m) * x / ((qam + m2) * (a + m2))
            d = 1 + aa * d
            if abs(d) < tiny { d = tiny }
            c = 1 + aa / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            h *= d * c
            aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
            d = 1 + aa * d
            if abs(d) < tiny { d = tiny }
            c = 1 + aa / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < 1e-15 { break }
        }
        return h
    }
}

/// Bayesian toxicity monitoring (Thall PF, Simon RM, Estey EH. Bayesian sequential monitoring designs
/// for single-arm clinical trials with multiple outcomes. Stat Med 1995;14:357-379): with a
/// Beta(a, b) prior on the toxicity rate p, after x toxicities in n evaluable subjects the posterior
/// is Beta(a + x, b + n − x); the trial stops when Pr(p > p* | x, n) > c (and n ≥ the minimum).
public struct BayesianToxicityMonitor: Sendable, Equatable, Codable {
    public var priorA: Double
    public var priorB: Double
    /// p*: the toxicity rate the trial must not exceed.
    public var maxToxicityRate: Double
    /// c: posterior probability above which the trial stops.
    public var threshold: Double
    public var minimumEvaluable: Int

    /// docs/ARCHITECTURE.md §4 defaults: Beta(0.3, 0.7), stop when Pr(p > 0.30) > 0.90 with n ≥ 3.
    public init(priorA: Double = 0.3, priorB: Double = 0.7, maxToxicityRate: Double = 0.30, threshold: Double = 0.90, minimumEvaluable: Int = 3) {
        self.priorA = priorA
        self.priorB = priorB
        self.maxToxicityRate = maxToxicityRate
        self.threshold = threshold
        self.minimumEvaluable = minimumEvaluable
    }

    /// Pr(p > p* | x toxicities among n evaluable).
    public func posteriorProbability(toxicities x: Int, evaluable n: Int) -> Double {
        1 - IncompleteBeta.regularized(x: maxToxicityRate, a: priorA + Double(x), b: priorB + Double(n - x))
    }

    public func shouldStop(toxicities x: Int, evaluable n: Int) -> Bool {
        n >= minimumEvaluable && posteriorProbability(toxicities: x, evaluable: n) > threshold
    }

    /// One row of the boundary table: the smallest x that stops at n, and the posterior there.
    public struct Boundary: Sendable, Equatable, Codable {
        public var evaluable: Int
        public var stoppingToxicities: Int?
        public var posterior: Double?
    }

    public func boundaries(upTo enrolment: Int) -> [Boundary] {
        (1...max(enrolment, 1)).map { n in
            guard let x = (0...n).first(where: { shouldStop(toxicities: $0, evaluable: n) }) else {
                return Boundary(evaluable: n, stoppingToxicities: nil, posterior: nil)
            }
            return Boundary(evaluable: n, stoppingToxicities: x, posterior: posteriorProbability(toxicities: x, evaluable: n))
        }
    }
}

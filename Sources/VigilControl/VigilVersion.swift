/// Vigil's version, reported by `ping` and `status`.
public enum VigilVersion {
    public static let string = "0.1.0"
}

import Glibc

/// What tells one state of a file's contents from another without reading them: its size and its
/// modification time to the nanosecond. Two equal stamps taken around a read mean the read saw a
/// stable file; an inbox file is taken only once its stamp stops changing.
struct FileStamp: Equatable, Sendable {
    var size: Int64
    var seconds: Int
    var nanoseconds: Int

    /// The stamp of a `stat`/`lstat`/`fstat` result.
    init(_ st: stat) {
        size = Int64(st.st_size)
        seconds = st.st_mtim.tv_sec
        nanoseconds = st.st_mtim.tv_nsec
    }
}

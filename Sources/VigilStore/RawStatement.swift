import Foundation
import GRDB
import GRDBSQLite

/// Binds values straight onto a prepared statement and steps it, for the statements run once per
/// record or per signal state: building GRDB's `StatementArguments` (an array of boxed
/// `DatabaseValue`s) and binding from it costs too much on a path every record takes. The
/// statement comes from GRDB's cache and is only ever run through here.
struct RawStatement {
    private static let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

    let db: Database
    let handle: OpaquePointer
    let sql: String

    init(_ db: Database, sql: String) throws {
        self.db = db
        self.sql = sql
        handle = try db.cachedStatement(sql: sql).sqliteStatement
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    func bind(_ index: Int32, _ text: String?) {
        guard let text else { return }  // cleared bindings are NULL
        sqlite3_bind_text(handle, index, text, -1, Self.transient)
    }

    func bind(_ index: Int32, _ number: Double?) {
        guard let number else { return }
        sqlite3_bind_double(handle, index, number)
    }

    func bind(_ index: Int32, _ integer: Int64) {
        sqlite3_bind_int64(handle, index, integer)
    }

    func bind(_ index: Int32, _ data: Data) {
        _ = data.withUnsafeBytes { bytes in
            // A zero-length blob must still be a blob, not NULL: SQLite takes any non-null pointer.
            sqlite3_bind_blob(handle, index, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(bytes.count), Self.transient)
        }
    }

    /// Runs the statement to completion (it returns no rows) and resets it.
    func run() throws {
        let code = sqlite3_step(handle)
        defer { sqlite3_reset(handle) }
        guard code == SQLITE_DONE else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)), sql: sql)
        }
    }
}

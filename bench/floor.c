/*
 * floor.c - the floor of bench/compare (issue 26): the least work that does what Vigil and
 * bench/watcher.py do to an NDJSON inbox, with durable storage.
 *
 *   cc -O2 -o floor bench/floor.c -lsqlite3
 *   floor --inbox DIR --archive DIR --rejected DIR --outbox DIR --db FILE
 *
 * Watches the inbox with inotify. Takes due files (not ".*", "*.tmp", "*.part") in name order, up
 * to 64 per transaction: reads each whole, pulls the fields it inserts out of each NDJSON line with
 * a minimal scanner (type, id, subject, time or onset, code, value, unit; the line itself is the
 * body), and inserts them with the same statements and schema as watcher.py (INSERT OR REPLACE
 * into records, one ledger row per file) in one SQLite transaction (WAL, synchronous=FULL: the
 * commit is fsynced). One rule, enough for the latency probes: an observation of lactate >= 4
 * mmol/L raises an alert when the subject's previous lactate did not (per-subject state in a hash
 * table; no time ordering, no store of it). Each alert is written as an RFC 5322 mail to
 * outbox/tmp, fsynced, renamed into outbox/new, and outbox/new is fsynced. Then the batch's files
 * are renamed into the archive directory and the archive and inbox directories are fsynced once.
 * A line it cannot read moves its file to the rejected directory (in the same batch).
 * Prints "ready" on stdout once it watches the inbox, before the start-up scan.
 * SIGTERM or SIGINT: finishes the current batch and exits 0.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BATCH_FILES 64

static volatile sig_atomic_t stopping = 0;
static void on_signal(int sig) { (void)sig; stopping = 1; }

static const char *inbox, *archive_dir, *rejected_dir, *outbox_tmp, *outbox_new;
static sqlite3 *db;
static sqlite3_stmt *insert_record, *insert_file;

static void die(const char *what) {
    fprintf(stderr, "floor: %s: %s\n", what, errno ? strerror(errno) : "failed");
    exit(2);
}

static void die_sql(const char *what) {
    fprintf(stderr, "floor: %s: %s\n", what, sqlite3_errmsg(db));
    exit(2);
}

static void exec_sql(const char *sql) {
    char *error = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &error) != SQLITE_OK) {
        fprintf(stderr, "floor: %s: %s\n", sql, error);
        exit(2);
    }
}

static void fsync_dir(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) die(path);
    close(fd);
}

static int due(const char *name) {
    size_t n = strlen(name);
    if (name[0] == '.') return 0;
    if (n >= 4 && strcmp(name + n - 4, ".tmp") == 0) return 0;
    if (n >= 5 && strcmp(name + n - 5, ".part") == 0) return 0;
    return 1;
}

/* ---- a set of names (the work queue), sorted ---------------------------------------------- */

typedef struct { char **names; size_t count, cap; } NameList;

static void list_add(NameList *l, const char *name, int dedup) {
    for (size_t i = 0; dedup && i < l->count; i++)
        if (strcmp(l->names[i], name) == 0) return;
    if (l->count == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->names = realloc(l->names, l->cap * sizeof(char *));
        if (!l->names) die("realloc");
    }
    l->names[l->count++] = strdup(name);
}

static int compare_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void scan_inbox(NameList *l) {
    DIR *d = opendir(inbox);
    if (!d) die(inbox);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if ((e->d_type == DT_REG || e->d_type == DT_UNKNOWN) && due(e->d_name)) list_add(l, e->d_name, 0);
    closedir(d);
    qsort(l->names, l->count, sizeof(char *), compare_names);
}

/* ---- minimal NDJSON scanning ------------------------------------------------------------- */

typedef struct { const char *p; int n; } Slice;

typedef struct {
    Slice type, id, subject, time, code, unit, value_text;
    double value;
    int has_number;
} Fields;

static const char *skip_space(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) p++;
    return p;
}

/* p at an opening quote: returns the slice inside the quotes (escapes left as they are) and
 * the position after the closing quote, or NULL. */
static const char *scan_string(const char *p, const char *end, Slice *out) {
    const char *s = ++p;
    while (p < end && *p != '"') p += (*p == '\\') ? 2 : 1;
    if (p >= end) return NULL;
    out->p = s;
    out->n = (int)(p - s);
    return p + 1;
}

/* Skips any JSON value (objects and arrays by depth, strings aware of escapes). */
static const char *skip_value(const char *p, const char *end) {
    int depth = 0;
    do {
        if (p >= end) return NULL;
        if (*p == '"') {
            Slice ignored;
            if (!(p = scan_string(p, end, &ignored))) return NULL;
            continue;
        }
        if (*p == '{' || *p == '[') depth++;
        else if (*p == '}' || *p == ']') depth--;
        else if (depth == 0) {
            while (p < end && *p != ',' && *p != '}' && *p != ' ') p++;
            return p;
        }
        p++;
    } while (depth > 0);
    return p;
}

static int key_is(Slice k, const char *name) { return (int)strlen(name) == k.n && memcmp(k.p, name, (size_t)k.n) == 0; }

/* Reads one top-level object's fields; 0 when the line is not an object it can read. */
static int scan_record(const char *p, const char *end, Fields *f) {
    memset(f, 0, sizeof *f);
    p = skip_space(p, end);
    if (p >= end || *p != '{') return 0;
    p = skip_space(p + 1, end);
    while (p < end && *p != '}') {
        Slice key;
        if (*p != '"' || !(p = scan_string(p, end, &key))) return 0;
        p = skip_space(p, end);
        if (p >= end || *p != ':') return 0;
        p = skip_space(p + 1, end);
        if (p >= end) return 0;
        Slice *target = NULL;
        if (key_is(key, "type")) target = &f->type;
        else if (key_is(key, "id")) target = &f->id;
        else if (key_is(key, "subject")) target = &f->subject;
        else if (key_is(key, "time") || (key_is(key, "onset") && !f->time.p)) target = &f->time;
        else if (key_is(key, "code")) target = &f->code;
        else if (key_is(key, "unit")) target = &f->unit;
        if (key_is(key, "value")) {
            if (*p == '"') {
                if (!(p = scan_string(p, end, &f->value_text))) return 0;
                f->value_text.p--, f->value_text.n += 2; /* stored as JSON text, quotes included */
            } else if (*p == 't' || *p == 'f' || *p == 'n') {
                const char *s = p;
                if (!(p = skip_value(p, end))) return 0;
                if (*s != 'n') f->value_text = (Slice){s, (int)(p - s)};
            } else {
                char *after;
                f->value = strtod(p, &after);
                if (after == p) return 0;
                f->has_number = 1;
                p = after;
            }
        } else if (target && *p == '"') {
            if (!(p = scan_string(p, end, target))) return 0;
        } else if (!(p = skip_value(p, end))) {
            return 0;
        }
        p = skip_space(p, end);
        if (p < end && *p == ',') p = skip_space(p + 1, end);
    }
    return f->id.p && f->subject.p;
}

/* ---- the one rule: lactate >= 4, per-subject state ---------------------------------------- */

typedef struct { char *subject; int high; } SubjectState;
static SubjectState *states;
static size_t state_cap = 1024, state_count;

static uint64_t hash(const char *p, int n) {
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    return h;
}

static SubjectState *subject_state(Slice s) {
    if ((state_count + 1) * 2 > state_cap) {
        SubjectState *old = states;
        size_t old_cap = state_cap;
        state_cap *= 2;
        states = calloc(state_cap, sizeof *states);
        if (!states) die("calloc");
        state_count = 0;
        for (size_t i = 0; i < old_cap; i++)
            if (old[i].subject) {
                size_t j = hash(old[i].subject, (int)strlen(old[i].subject)) & (state_cap - 1);
                while (states[j].subject) j = (j + 1) & (state_cap - 1);
                states[j] = old[i];
                state_count++;
            }
        free(old);
    }
    size_t j = hash(s.p, s.n) & (state_cap - 1);
    while (states[j].subject) {
        if ((int)strlen(states[j].subject) == s.n && memcmp(states[j].subject, s.p, (size_t)s.n) == 0) return &states[j];
        j = (j + 1) & (state_cap - 1);
    }
    states[j].subject = strndup(s.p, (size_t)s.n);
    state_count++;
    return &states[j];
}

typedef struct { char id[17]; char *text; } Mail;
static Mail *mails;
static size_t mail_count, mail_cap;

static void queue_mail(const Fields *f) {
    if (mail_count == mail_cap) {
        mail_cap = mail_cap ? mail_cap * 2 : 64;
        mails = realloc(mails, mail_cap * sizeof *mails);
        if (!mails) die("realloc");
    }
    Mail *m = &mails[mail_count++];
    uint64_t h = hash(f->id.p, f->id.n) ^ (hash(f->subject.p, f->subject.n) * 31);
    snprintf(m->id, sizeof m->id, "%016llx", (unsigned long long)h);
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    if (asprintf(&m->text,
                 "From: Floor <floor@lysyme-site.invalid>\r\nTo: oncall-dermatology@lysyme-site.invalid\r\n"
                 "Subject: [ALERT] %.*s lactate >= 4 mmol/L: %g\r\nDate: %s\r\n"
                 "Message-ID: <%s@floor.lysyme-site.invalid>\r\nMIME-Version: 1.0\r\n"
                 "Content-Type: text/plain; charset=utf-8\r\nX-Alert-Id: %s\r\nX-Alert-Subject: %.*s\r\n\r\n"
                 "Subject %.*s: lactate %g at %.*s (record %.*s) meets the rule lactate-high.\r\n",
                 f->subject.n, f->subject.p, f->value, date, m->id, m->id, f->subject.n, f->subject.p,
                 f->subject.n, f->subject.p, f->value, f->time.n, f->time.p, f->id.n, f->id.p) < 0)
        die("asprintf");
}

static void deliver_mails(void) {
    char from[4096], to[4096];
    for (size_t i = 0; i < mail_count; i++) {
        snprintf(from, sizeof from, "%s/%s.eml", outbox_tmp, mails[i].id);
        snprintf(to, sizeof to, "%s/%s.eml", outbox_new, mails[i].id);
        int fd = open(from, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
        if (fd < 0) die(from);
        size_t n = strlen(mails[i].text);
        if (write(fd, mails[i].text, n) != (ssize_t)n || fsync(fd) != 0) die(from);
        close(fd);
        if (rename(from, to) != 0) die(to);
        fsync_dir(outbox_new);
        free(mails[i].text);
    }
    mail_count = 0;
}

/* ---- one file, one batch ----------------------------------------------------------------- */

static char *read_whole(const char *path, size_t *size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) { close(fd); return NULL; }
    char *buffer = malloc((size_t)st.st_size + 1);
    if (!buffer) die("malloc");
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buffer + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(fd);
    *size = got;
    return buffer;
}

static void bind_slice(sqlite3_stmt *st, int i, Slice s) {
    if (s.p) sqlite3_bind_text(st, i, s.p, s.n, SQLITE_STATIC);
    else sqlite3_bind_null(st, i);
}

/* Inserts one file's records; returns the record count, or -1 when a line cannot be read
 * (the file is then rejected; its rows already inserted are rolled back with a savepoint). */
static int apply_file(const char *name, const char *data, size_t size, const char *stamp) {
    exec_sql("SAVEPOINT file");
    int records = 0;
    size_t queued = mail_count;
    const char *p = data, *end = data + size;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = eol ? eol : end;
        const char *q = skip_space(p, line_end);
        if (q < line_end) {
            Fields f;
            if (!scan_record(q, line_end, &f)) {
                exec_sql("ROLLBACK TO file; RELEASE file");
                for (size_t i = queued; i < mail_count; i++) free(mails[i].text);
                mail_count = queued;
                return -1;
            }
            const char *body_end = line_end;
            while (body_end > q && (body_end[-1] == '\r' || body_end[-1] == ' ')) body_end--;
            sqlite3_stmt *st = insert_record;
            bind_slice(st, 1, f.id);
            bind_slice(st, 2, f.type);
            bind_slice(st, 3, f.subject);
            bind_slice(st, 4, f.time);
            bind_slice(st, 5, f.code);
            if (f.has_number) sqlite3_bind_double(st, 6, f.value); else sqlite3_bind_null(st, 6);
            bind_slice(st, 7, f.value_text);
            bind_slice(st, 8, f.unit);
            sqlite3_bind_text(st, 9, q, (int)(body_end - q), SQLITE_STATIC);
            if (sqlite3_step(st) != SQLITE_DONE) die_sql("insert record");
            sqlite3_reset(st);
            records++;
            if (f.has_number && key_is(f.code, "lactate") && key_is(f.type, "observation")) {
                SubjectState *s = subject_state(f.subject);
                int high = f.value >= 4.0;
                if (high && !s->high) queue_mail(&f);
                s->high = high;
            }
        }
        p = line_end + 1;
    }
    if (records == 0) {
        exec_sql("ROLLBACK TO file; RELEASE file");
        return -1;
    }
    sqlite3_bind_text(insert_file, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(insert_file, 2, (sqlite3_int64)size);
    sqlite3_bind_int(insert_file, 3, records);
    sqlite3_bind_text(insert_file, 4, stamp, -1, SQLITE_STATIC);
    if (sqlite3_step(insert_file) != SQLITE_DONE) die_sql("insert file");
    sqlite3_reset(insert_file);
    exec_sql("RELEASE file");
    return records;
}

static void process_batch(char **names, size_t count) {
    char stamp[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    int rejected[BATCH_FILES] = {0}, present[BATCH_FILES] = {0};
    char path[4096], target[4096];
    exec_sql("BEGIN");
    for (size_t i = 0; i < count; i++) {
        snprintf(path, sizeof path, "%s/%s", inbox, names[i]);
        size_t size = 0;
        char *data = read_whole(path, &size);
        if (!data) continue; /* gone, or not a regular file */
        present[i] = 1;
        if (apply_file(names[i], data, size, stamp) < 0) rejected[i] = 1;
        free(data);
    }
    exec_sql("COMMIT");
    deliver_mails();
    int moved_archive = 0, moved_rejected = 0;
    for (size_t i = 0; i < count; i++) {
        if (!present[i]) continue;
        snprintf(path, sizeof path, "%s/%s", inbox, names[i]);
        snprintf(target, sizeof target, "%s/%s", rejected[i] ? rejected_dir : archive_dir, names[i]);
        if (rename(path, target) != 0) die(target);
        if (rejected[i]) {
            fprintf(stderr, "floor: %s: unreadable line; moved to %s\n", names[i], rejected_dir);
            moved_rejected = 1;
        } else {
            moved_archive = 1;
        }
    }
    if (moved_archive) fsync_dir(archive_dir);
    if (moved_rejected) fsync_dir(rejected_dir);
    if (moved_archive || moved_rejected) fsync_dir(inbox);
}

static char *join(const char *a, const char *b) {
    char *s;
    if (asprintf(&s, "%s/%s", a, b) < 0) die("asprintf");
    return s;
}

int main(int argc, char **argv) {
    const char *outbox = NULL, *db_path = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--inbox") == 0) inbox = argv[i + 1];
        else if (strcmp(argv[i], "--archive") == 0) archive_dir = argv[i + 1];
        else if (strcmp(argv[i], "--rejected") == 0) rejected_dir = argv[i + 1];
        else if (strcmp(argv[i], "--outbox") == 0) outbox = argv[i + 1];
        else if (strcmp(argv[i], "--db") == 0) db_path = argv[i + 1];
        else { fprintf(stderr, "floor: unknown option %s\n", argv[i]); return 2; }
    }
    if (!inbox || !archive_dir || !rejected_dir || !outbox || !db_path) {
        fprintf(stderr, "usage: floor --inbox DIR --archive DIR --rejected DIR --outbox DIR --db FILE\n");
        return 2;
    }
    outbox_tmp = join(outbox, "tmp");
    outbox_new = join(outbox, "new");
    const char *dirs[] = {inbox, archive_dir, rejected_dir, outbox, outbox_tmp, outbox_new};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++)
        if (mkdir(dirs[i], 0755) != 0 && errno != EEXIST) die(dirs[i]);

    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    char *db_dir = strdup(db_path), *slash = strrchr(db_dir, '/');
    if (slash && slash != db_dir) {
        *slash = 0;
        if (mkdir(db_dir, 0755) != 0 && errno != EEXIST) die(db_dir);
    }
    free(db_dir);
    if (sqlite3_open(db_path, &db) != SQLITE_OK) die_sql("open");
    exec_sql("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
             "CREATE TABLE IF NOT EXISTS records(id TEXT PRIMARY KEY, type TEXT NOT NULL, subject TEXT NOT NULL, time TEXT,"
             " code TEXT, value REAL, value_text TEXT, unit TEXT, body TEXT NOT NULL);"
             "CREATE INDEX IF NOT EXISTS records_subject_time ON records(subject, time);"
             "CREATE TABLE IF NOT EXISTS files(name TEXT NOT NULL, bytes INTEGER NOT NULL, records INTEGER NOT NULL,"
             " processed_at TEXT NOT NULL);");
    if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO records(id, type, subject, time, code, value, value_text, unit, body)"
                               " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", -1, &insert_record, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO files(name, bytes, records, processed_at) VALUES (?, ?, ?, ?)", -1,
                           &insert_file, NULL) != SQLITE_OK)
        die_sql("prepare");
    states = calloc(state_cap, sizeof *states);
    if (!states) die("calloc");

    int watch = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (watch < 0 || inotify_add_watch(watch, inbox, IN_CLOSE_WRITE | IN_MOVED_TO) < 0) die("inotify");
    fputs("ready\n", stdout);
    fflush(stdout);

    NameList queue = {0};
    scan_inbox(&queue);
    char events[65536] __attribute__((aligned(__alignof__(struct inotify_event))));
    while (!stopping) {
        size_t next = 0;
        while (next < queue.count && !stopping) {
            size_t n = queue.count - next < BATCH_FILES ? queue.count - next : BATCH_FILES;
            process_batch(queue.names + next, n);
            next += n;
        }
        for (size_t i = 0; i < queue.count; i++) free(queue.names[i]);
        queue.count = 0;
        if (stopping) break;
        struct pollfd pfd = {watch, POLLIN, 0};
        if (poll(&pfd, 1, 1000) <= 0) continue;
        int overflow = 0;
        ssize_t len;
        while ((len = read(watch, events, sizeof events)) > 0) {
            for (char *p = events; p < events + len;) {
                struct inotify_event *e = (struct inotify_event *)p;
                if (e->mask & IN_Q_OVERFLOW) overflow = 1;
                else if (e->len && due(e->name)) list_add(&queue, e->name, 1);
                p += sizeof *e + e->len;
            }
        }
        if (overflow) {
            for (size_t i = 0; i < queue.count; i++) free(queue.names[i]);
            queue.count = 0;
            scan_inbox(&queue);
        }
    }
    sqlite3_finalize(insert_record);
    sqlite3_finalize(insert_file);
    sqlite3_close(db);
    return 0;
}

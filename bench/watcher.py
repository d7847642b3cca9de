#!/usr/bin/env python3
"""The watcher script a site could write instead of Vigil (issue 26): the baseline of bench/compare.

Python 3 standard library only. Watches an inbox directory (inotify through ctypes on Linux, else
polling with os.scandir every 10 ms). For each new NDJSON file, in name order:

  1. read it and json.loads each line;
  2. insert every record into SQLite (WAL, synchronous=FULL) in ONE transaction per file, with the
     file's ledger row and the alerts it raises or clears; the commit is fsynced;
  3. evaluate a fixed set of threshold rules on each observation against the subject's newest value
     of that code (lactate >= 4 mmol/L, systolic BP <= 100 mmHg, respiratory rate >= 22/min,
     temperature >= 38.3 or < 36 degC, heart rate > 90/min): an alert is raised once when the
     newest value crosses the threshold and cleared when it goes back;
  4. write each raised alert as an RFC 5322 mail to outbox/tmp/ID.eml, fsync it, rename it into
     outbox/new/ and fsync outbox/new;
  5. rename the input file into the archive directory and fsync the archive and inbox directories.

Names starting with "." and ending in .tmp or .part are left alone (producers write those, then
rename). A file that cannot be read as NDJSON records is moved to the rejected directory.
On start-up the open alerts and each subject's newest values are loaded from the database, and
a mail missing from the outbox for a recorded alert is written again (a crash between the commit
and the mail). Prints "ready" on stdout once it watches the inbox (before the start-up scan).
SIGTERM or SIGINT: finishes the current file and exits 0.

    watcher.py --inbox DIR --archive DIR --rejected DIR --outbox DIR --db FILE
"""

import argparse
import ctypes
import datetime
import email.utils
import hashlib
import json
import os
import select
import signal
import sqlite3
import struct
import sys
import time

# Thresholds: (rule id, code, test, description). Each is evaluated on the subject's newest value.
RULES = [
    ("lactate-high", "lactate", lambda v: v >= 4.0, "lactate >= 4 mmol/L"),
    ("sbp-low", "systolic_bp", lambda v: v <= 100, "systolic BP <= 100 mmHg"),
    ("rr-high", "respiratory_rate", lambda v: v >= 22, "respiratory rate >= 22/min"),
    ("temp-high", "temperature", lambda v: v >= 38.3, "temperature >= 38.3 degC"),
    ("temp-low", "temperature", lambda v: v < 36.0, "temperature < 36 degC"),
    ("hr-high", "heart_rate", lambda v: v > 90, "heart rate > 90/min"),
]
RULES_BY_CODE = {}
for _rule in RULES:
    RULES_BY_CODE.setdefault(_rule[1], []).append(_rule)

SCHEMA = """
CREATE TABLE IF NOT EXISTS records(
    id TEXT PRIMARY KEY, type TEXT NOT NULL, subject TEXT NOT NULL, time TEXT,
    code TEXT, value REAL, value_text TEXT, unit TEXT, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS records_subject_time ON records(subject, time);
CREATE TABLE IF NOT EXISTS files(
    name TEXT NOT NULL, bytes INTEGER NOT NULL, records INTEGER NOT NULL, processed_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS latest(
    subject TEXT NOT NULL, code TEXT NOT NULL, time TEXT NOT NULL, value REAL NOT NULL,
    PRIMARY KEY(subject, code));
CREATE TABLE IF NOT EXISTS alerts(
    id TEXT PRIMARY KEY, rule TEXT NOT NULL, subject TEXT NOT NULL, value REAL, time TEXT,
    raised_at TEXT NOT NULL, cleared_at TEXT, mail TEXT NOT NULL);
"""

IN_CLOSE_WRITE = 0x00000008
IN_MOVED_TO = 0x00000080
IN_Q_OVERFLOW = 0x00004000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000

MAIL_FROM = "watcher@lysyme-site.invalid"
MAIL_TO = "oncall-dermatology@lysyme-site.invalid"

stopping = False


def log(text):
    sys.stderr.write(f"watcher: {text}\n")
    sys.stderr.flush()


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def due(name):
    return not (name.startswith(".") or name.endswith(".tmp") or name.endswith(".part"))


def instant(text):
    """An ISO 8601 time as an aware datetime (UTC when it has no offset); None when unreadable."""
    try:
        when = datetime.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=datetime.timezone.utc)


class Inotify:
    """inotify through ctypes; None when the platform has none."""

    @staticmethod
    def open(directory):
        if not sys.platform.startswith("linux"):
            return None
        try:
            # Not ctypes.util.find_library: it runs ldconfig and a compiler in subprocesses.
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
            if fd < 0:
                return None
            if libc.inotify_add_watch(fd, os.fsencode(directory), IN_CLOSE_WRITE | IN_MOVED_TO) < 0:
                os.close(fd)
                return None
            return Inotify(fd)
        except (OSError, AttributeError):
            return None

    def __init__(self, fd):
        self.fd = fd

    def wait(self, timeout, wake=None):
        """Names that arrived within `timeout` seconds (or until `wake` is readable); None on queue
        overflow (rescan)."""
        ready, _, _ = select.select([self.fd] + ([wake] if wake is not None else []), [], [], timeout)
        if self.fd not in ready:
            return []
        names = []
        overflow = False
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            offset = 0
            while offset + 16 <= len(data):
                _, mask, _, length = struct.unpack_from("iIII", data, offset)
                name = data[offset + 16:offset + 16 + length].rstrip(b"\0")
                offset += 16 + length
                if mask & IN_Q_OVERFLOW:
                    overflow = True
                elif name:
                    names.append(os.fsdecode(name))
        return None if overflow else names


class Watcher:
    def __init__(self, options):
        self.inbox = options.inbox
        self.archive = options.archive
        self.rejected = options.rejected
        self.outbox_tmp = os.path.join(options.outbox, "tmp")
        self.outbox_new = os.path.join(options.outbox, "new")
        self.outbox_sent = os.path.join(options.outbox, "sent")
        for path in (self.inbox, self.archive, self.rejected, self.outbox_tmp, self.outbox_new, self.outbox_sent,
                     os.path.dirname(os.path.abspath(options.db))):
            os.makedirs(path, exist_ok=True)
        self.db = sqlite3.connect(options.db, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)
        self.rescan_interval = options.rescan_seconds
        self.load_state()
        # Mails of recorded alerts that never reached the outbox (a crash after the commit).
        for alert_id, mail in self.db.execute("SELECT id, mail FROM alerts"):
            name = alert_id + ".eml"
            if not (os.path.exists(os.path.join(self.outbox_new, name)) or os.path.exists(os.path.join(self.outbox_sent, name))):
                self.deliver(alert_id, mail)

    # -- the pipeline -------------------------------------------------------------------------

    def process(self, name):
        path = os.path.join(self.inbox, name)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return
        except OSError as error:
            log(f"cannot read {name}: {error}")
            return
        lines = [line for line in data.splitlines() if line.strip()]
        try:
            records = [json.loads(line) for line in lines]
            if not records or not all(isinstance(r, dict) and "id" in r and "subject" in r for r in records):
                raise ValueError("not NDJSON records")
        except ValueError as error:
            log(f"{name}: {error}; moved to {self.rejected}")
            os.rename(path, os.path.join(self.rejected, name))
            fsync_dir(self.rejected)
            fsync_dir(self.inbox)
            return
        now = datetime.datetime.now(datetime.timezone.utc)
        stamp = now.isoformat()
        mails = []
        db = self.db
        db.execute("BEGIN")
        try:
            for line, r in zip(lines, records):
                value = r.get("value")
                number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
                text = None if number is not None or value is None else json.dumps(value)
                db.execute("INSERT OR REPLACE INTO records(id, type, subject, time, code, value, value_text, unit, body) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           (r["id"], r.get("type"), r["subject"], r.get("time") or r.get("onset"), r.get("code"),
                            number, text, r.get("unit"), line.decode("utf-8")))
                if r.get("type") == "observation" and number is not None and r.get("code") in RULES_BY_CODE:
                    self.evaluate(r, number, stamp, now, mails)
            db.execute("INSERT INTO files(name, bytes, records, processed_at) VALUES (?, ?, ?, ?)",
                       (name, len(data), len(records), stamp))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            # The in-memory state may hold this file's changes: reload it from the database.
            self.load_state()
            raise
        for alert_id, mail in mails:
            self.deliver(alert_id, mail)
        os.rename(path, os.path.join(self.archive, name))
        fsync_dir(self.archive)
        fsync_dir(self.inbox)

    def load_state(self):
        """(subject, code) -> (time, value) of the newest observation; open alerts (rule, subject) -> id."""
        self.latest = {(s, c): (instant(t), v) for s, c, t, v in self.db.execute("SELECT subject, code, time, value FROM latest")}
        self.open_alerts = {(r, s): i for i, r, s in self.db.execute("SELECT id, rule, subject FROM alerts WHERE cleared_at IS NULL")}

    def evaluate(self, record, value, stamp, now, mails):
        subject, code = record["subject"], record["code"]
        when = instant(record.get("time"))
        if when is None:
            return
        key = (subject, code)
        newest = self.latest.get(key)
        if newest is not None and newest[0] is not None and newest[0] > when:
            return  # an older value than the one we hold: not the subject's current state
        self.latest[key] = (when, value)
        self.db.execute("INSERT OR REPLACE INTO latest(subject, code, time, value) VALUES (?, ?, ?, ?)",
                        (subject, code, record["time"], value))
        for rule, _, test, description in RULES_BY_CODE[code]:
            open_id = self.open_alerts.get((rule, subject))
            if test(value):
                if open_id is None:
                    alert_id = hashlib.sha256(f"{rule}|{subject}|{record['id']}".encode()).hexdigest()[:16]
                    mail = self.render(alert_id, rule, description, subject, record, value, now)
                    self.db.execute("INSERT OR REPLACE INTO alerts(id, rule, subject, value, time, raised_at, cleared_at, mail) "
                                    "VALUES (?, ?, ?, ?, ?, ?, NULL, ?)",
                                    (alert_id, rule, subject, value, record["time"], stamp, mail))
                    self.open_alerts[(rule, subject)] = alert_id
                    mails.append((alert_id, mail))
            elif open_id is not None:
                self.db.execute("UPDATE alerts SET cleared_at = ? WHERE id = ?", (stamp, open_id))
                del self.open_alerts[(rule, subject)]

    @staticmethod
    def render(alert_id, rule, description, subject, record, value, now):
        unit = record.get("unit") or ""
        headers = [
            ("From", f"Watcher <{MAIL_FROM}>"),
            ("To", MAIL_TO),
            ("Subject", f"[ALERT] {subject} {description}: {value:g} {unit}".rstrip()),
            ("Date", email.utils.format_datetime(now)),
            ("Message-ID", f"<{alert_id}@watcher.lysyme-site.invalid>"),
            ("MIME-Version", "1.0"),
            ("Content-Type", "text/plain; charset=utf-8"),
            ("X-Alert-Id", alert_id),
            ("X-Alert-Rule", rule),
            ("X-Alert-Subject", subject),
        ]
        body = (f"Subject {subject}: {record['code']} {value:g} {unit} at {record['time']} "
                f"(record {record['id']}) meets the rule {rule} ({description}).\r\n"
                f"Alert id {alert_id}.\r\n")
        return "\r\n".join(f"{k}: {v}" for k, v in headers) + "\r\n\r\n" + body

    def deliver(self, alert_id, mail):
        temporary = os.path.join(self.outbox_tmp, alert_id + ".eml")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        try:
            os.write(fd, mail.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temporary, os.path.join(self.outbox_new, alert_id + ".eml"))
        fsync_dir(self.outbox_new)

    # -- the loop -------------------------------------------------------------------------------

    def scan(self):
        with os.scandir(self.inbox) as entries:
            return sorted(e.name for e in entries if due(e.name) and e.is_file(follow_symlinks=False))

    def run(self):
        watch = Inotify.open(self.inbox)
        # SIGTERM wakes the select at once (signal.set_wakeup_fd), so a stop never waits for the timeout.
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        if watch is None:
            log("no inotify: polling the inbox every 10 ms")
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        queue = self.scan()
        last_scan = time.monotonic()
        while not stopping:
            while queue and not stopping:
                name = queue.pop(0)
                if due(name):
                    self.process(name)
            if stopping:
                break
            if watch is None:
                time.sleep(0.01)
                queue = self.scan()
                continue
            try:
                names = watch.wait(1.0, wake_r)
            except InterruptedError:
                continue
            if names is None or time.monotonic() - last_scan > self.rescan_interval:
                queue = self.scan()
                last_scan = time.monotonic()
            else:
                seen = set()
                queue = [n for n in names if not (n in seen or seen.add(n)) and os.path.isfile(os.path.join(self.inbox, n))]
        self.db.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inbox", required=True)
    parser.add_argument("--archive", required=True)
    parser.add_argument("--rejected", required=True)
    parser.add_argument("--outbox", required=True, help="Maildir: tmp/ and new/ are used")
    parser.add_argument("--db", required=True)
    parser.add_argument("--rescan-seconds", type=float, default=60.0, help="full inbox rescan interval (safety net)")
    options = parser.parse_args()

    def stop(signum, frame):
        global stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    Watcher(options).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())

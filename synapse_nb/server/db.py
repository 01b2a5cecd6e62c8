"""SQLite storage of the embedded backend.

One file under the data directory, WAL mode, one connection per thread. Writes go through
:meth:`Database.write`, which serialises them with a lock and wraps them in a transaction, so a
request either commits everything it changed or nothing.
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, NamedTuple

from .marks import PageMarks

try:  # POSIX; elsewhere a data dir in use is not detected
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tenants (
    id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY, tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    username TEXT NOT NULL UNIQUE, name TEXT NOT NULL, email TEXT NOT NULL DEFAULT '',
    is_admin INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS tokens (
    hash TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id), created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS data_collections (
    id INTEGER PRIMARY KEY, tenant_id INTEGER NOT NULL, name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '', category TEXT NOT NULL DEFAULT 'image',
    created TEXT NOT NULL, modified TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS file_specifications (
    id INTEGER PRIMARY KEY, data_collection_id INTEGER NOT NULL REFERENCES data_collections(id),
    name TEXT NOT NULL, file_type TEXT NOT NULL, is_required INTEGER NOT NULL DEFAULT 1,
    is_primary INTEGER NOT NULL DEFAULT 0, is_sequential INTEGER NOT NULL DEFAULT 0,
    function_type TEXT NOT NULL DEFAULT 'main', configuration TEXT NOT NULL DEFAULT '{}',
    position INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS projects (
    id INTEGER PRIMARY KEY, tenant_id INTEGER NOT NULL, title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '', category TEXT NOT NULL DEFAULT 'image',
    data_collection_id INTEGER, configuration TEXT NOT NULL DEFAULT '{}',
    created TEXT NOT NULL, modified TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS task_tags (
    id INTEGER PRIMARY KEY, tenant_id INTEGER NOT NULL, project_id INTEGER, name TEXT NOT NULL,
    color TEXT NOT NULL DEFAULT '#888888', description TEXT NOT NULL DEFAULT '',
    meta TEXT NOT NULL DEFAULT '{}', created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS data_files (
    id INTEGER PRIMARY KEY, tenant_id INTEGER NOT NULL, checksum TEXT NOT NULL,
    file_name TEXT NOT NULL, rel_path TEXT NOT NULL, size INTEGER NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}', created TEXT NOT NULL, modified TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS data_files_checksum ON data_files(tenant_id, checksum);
CREATE TABLE IF NOT EXISTS data_unit_groups (
    id INTEGER PRIMARY KEY, tenant_id INTEGER NOT NULL, data_collection_id INTEGER NOT NULL,
    parent_id INTEGER, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS data_units (
    id INTEGER PRIMARY KEY, tenant_id INTEGER NOT NULL, data_collection_id INTEGER NOT NULL,
    group_id INTEGER, meta TEXT NOT NULL DEFAULT '{}', files TEXT NOT NULL DEFAULT '{}',
    created TEXT NOT NULL, modified TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS data_units_collection ON data_units(data_collection_id);
CREATE TABLE IF NOT EXISTS tasks (
    id INTEGER PRIMARY KEY, tenant_id INTEGER NOT NULL, project_id INTEGER NOT NULL,
    data_unit_id INTEGER, status TEXT NOT NULL DEFAULT 'pending',
    priority TEXT NOT NULL DEFAULT 'normal', assignee_id INTEGER,
    data TEXT NOT NULL DEFAULT '{}', metadata TEXT NOT NULL DEFAULT '{}',
    is_discarded INTEGER NOT NULL DEFAULT 0, created TEXT NOT NULL, modified TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS tasks_project ON tasks(project_id, id);
CREATE INDEX IF NOT EXISTS tasks_tenant_project ON tasks(tenant_id, project_id, id);
CREATE INDEX IF NOT EXISTS tasks_modified ON tasks(modified);
CREATE INDEX IF NOT EXISTS tasks_tenant_modified ON tasks(tenant_id, modified);
CREATE INDEX IF NOT EXISTS tasks_tenant ON tasks(tenant_id, id);
CREATE TABLE IF NOT EXISTS task_tag_links (
    task_id INTEGER NOT NULL, tag_id INTEGER NOT NULL, PRIMARY KEY (task_id, tag_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS task_tag_links_tag ON task_tag_links(tag_id, task_id);
CREATE TABLE IF NOT EXISTS assignments (
    id INTEGER PRIMARY KEY, tenant_id INTEGER NOT NULL, project_id INTEGER NOT NULL,
    task_id INTEGER NOT NULL, user_id INTEGER, status_label TEXT NOT NULL DEFAULT 'stand_by',
    status_review TEXT NOT NULL DEFAULT 'stand_by', data TEXT NOT NULL DEFAULT '{}',
    created TEXT NOT NULL, modified TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS assignments_project ON assignments(project_id, id);
CREATE INDEX IF NOT EXISTS assignments_tenant_project ON assignments(tenant_id, project_id, id);
CREATE INDEX IF NOT EXISTS assignments_tenant_modified ON assignments(tenant_id, modified);
CREATE INDEX IF NOT EXISTS assignments_task ON assignments(task_id);
CREATE INDEX IF NOT EXISTS assignments_tenant ON assignments(tenant_id, id);
CREATE TABLE IF NOT EXISTS assignment_tag_links (
    assignment_id INTEGER NOT NULL, tag_id INTEGER NOT NULL,
    PRIMARY KEY (assignment_id, tag_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS chunked_uploads (
    id TEXT PRIMARY KEY, tenant_id INTEGER NOT NULL, user_id INTEGER NOT NULL,
    filename TEXT NOT NULL, offset INTEGER NOT NULL DEFAULT 0, total INTEGER,
    status INTEGER NOT NULL DEFAULT 1, checksum TEXT, last_range TEXT,
    created TEXT NOT NULL, completed_at TEXT);
CREATE TABLE IF NOT EXISTS agents (
    id INTEGER PRIMARY KEY, tenant_id INTEGER NOT NULL, name TEXT NOT NULL,
    url TEXT NOT NULL DEFAULT '', token_hash TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL DEFAULT 'disconnected', last_seen TEXT, created TEXT NOT NULL,
    token TEXT);
CREATE TABLE IF NOT EXISTS plugins (
    id INTEGER PRIMARY KEY, tenant_id INTEGER NOT NULL, code TEXT NOT NULL, name TEXT NOT NULL,
    category TEXT NOT NULL DEFAULT 'custom', description TEXT NOT NULL DEFAULT '',
    is_active INTEGER NOT NULL DEFAULT 1, created TEXT NOT NULL, modified TEXT NOT NULL,
    UNIQUE (tenant_id, code));
CREATE TABLE IF NOT EXISTS plugin_releases (
    id INTEGER PRIMARY KEY, plugin_id INTEGER NOT NULL REFERENCES plugins(id),
    version TEXT NOT NULL, config TEXT NOT NULL DEFAULT '{}',
    requirements TEXT NOT NULL DEFAULT '[]', debug INTEGER NOT NULL DEFAULT 0,
    rel_path TEXT, file_name TEXT, created TEXT NOT NULL, UNIQUE (plugin_id, version));
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, tenant_id INTEGER NOT NULL,
    plugin_release_id INTEGER, agent_id INTEGER, user_id INTEGER, action TEXT NOT NULL,
    params TEXT NOT NULL DEFAULT '{}', status TEXT NOT NULL DEFAULT 'PENDING',
    progress_record TEXT NOT NULL DEFAULT '{}', metrics_record TEXT NOT NULL DEFAULT '{}',
    result TEXT NOT NULL DEFAULT 'null', meta TEXT NOT NULL DEFAULT '{}',
    created TEXT NOT NULL, modified TEXT NOT NULL, started TEXT, finished TEXT);
CREATE TABLE IF NOT EXISTS job_console_logs (
    id INTEGER PRIMARY KEY, job_id TEXT NOT NULL, event TEXT NOT NULL DEFAULT 'log',
    level TEXT NOT NULL DEFAULT 'info', step TEXT, data TEXT NOT NULL DEFAULT '{}',
    message TEXT NOT NULL DEFAULT '', datetime TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS job_console_logs_job ON job_console_logs(job_id, id);
CREATE TABLE IF NOT EXISTS storages (
    id INTEGER PRIMARY KEY, tenant_id INTEGER NOT NULL, name TEXT NOT NULL,
    category TEXT NOT NULL DEFAULT 'external', provider TEXT NOT NULL,
    configuration TEXT NOT NULL DEFAULT '{}', is_default INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    id INTEGER PRIMARY KEY, tenant_id INTEGER NOT NULL, name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '', plugin_id INTEGER, version TEXT NOT NULL DEFAULT '',
    checkpoint TEXT, configuration TEXT NOT NULL DEFAULT '{}', metrics TEXT NOT NULL DEFAULT '{}',
    project_id INTEGER, ground_truth_dataset_version_id INTEGER, data_file_id INTEGER,
    extra TEXT NOT NULL DEFAULT '{}', created TEXT NOT NULL, modified TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ground_truth_datasets (
    id INTEGER PRIMARY KEY, tenant_id INTEGER NOT NULL, name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '', project_id INTEGER, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ground_truth_dataset_versions (
    id INTEGER PRIMARY KEY, dataset_id INTEGER NOT NULL REFERENCES ground_truth_datasets(id),
    version TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
    is_archived INTEGER NOT NULL DEFAULT 0, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ground_truth_events (
    id INTEGER PRIMARY KEY, tenant_id INTEGER NOT NULL, version_id INTEGER NOT NULL,
    data_unit_id INTEGER, task_id INTEGER, data TEXT NOT NULL DEFAULT '{}',
    created TEXT NOT NULL, modified TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ground_truth_events_version ON ground_truth_events(version_id, id);
CREATE INDEX IF NOT EXISTS ground_truth_events_modified ON ground_truth_events(tenant_id, modified);
CREATE TABLE IF NOT EXISTS logs (
    id INTEGER PRIMARY KEY, tenant_id INTEGER NOT NULL, job_id TEXT, event TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}', datetime TEXT NOT NULL, step TEXT,
    level TEXT NOT NULL DEFAULT 'info', file TEXT);
CREATE TABLE IF NOT EXISTS serve_applications (
    id INTEGER PRIMARY KEY, tenant_id INTEGER NOT NULL, job_id TEXT, name TEXT,
    status TEXT NOT NULL DEFAULT 'DEPLOYING', data TEXT NOT NULL DEFAULT '{}',
    created TEXT NOT NULL);
"""


def now() -> str:
    """Current UTC time as ISO-8601 with offset (microseconds kept, so ordering is exact)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def dumps(value: Any) -> str:
    """JSON text for a column (compact, unicode kept); NaN and infinities are stored as null.

    Whatever is stored must be served again as valid JSON (a plugin's NaN loss included).

    Example:
        >>> dumps({"loss": float("nan"), "ok": [1.5, float("inf")]})
        '{"loss":null,"ok":[1.5,null]}'
    """
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(value), separators=(",", ":"), ensure_ascii=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def loads(text: str | None, default: Any = None) -> Any:
    return default if text is None else json.loads(text)


def _variable_limit() -> int:
    """How many ``?`` parameters one statement may have in this build of SQLite."""
    con = sqlite3.connect(":memory:")
    try:
        return con.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    finally:
        con.close()


#: the longest list :func:`in_list` binds one ``?`` per value: the ids of a listing page (up
#: to 1,000), where that is fastest; at most a quarter of the build's parameter limit, so the
#: statement's other parameters fit too on a build that allows only 999 (SQLite before 3.32)
INLINE_VALUES = min(1000, _variable_limit() // 4)


class InList(NamedTuple):
    """The inside of an ``IN (...)`` and the parameters it binds (see :func:`in_list`)."""

    sql: str
    params: list[Any]


def in_list(values: Iterable[Any]) -> InList:
    """``column IN ({sql})`` for any number of values, bound as ``params``.

    SQLite limits the parameters of one statement (250,000 in some builds, 32,766 by default,
    999 before 3.32), and request bodies carry lists of any length: a short list is bound one
    ``?`` per value, a longer one as a single JSON array that ``json_each`` reads back value by
    value, types kept (ints stay ints, text stays text). No values: ``IN ()``, matching nothing.

    Example:
        >>> in_list([3, 1, 2])
        InList(sql='?,?,?', params=[3, 1, 2])
        >>> many = in_list(range(250_001))
        >>> many.sql, len(many.params), many.params[0][:12]
        ('SELECT value FROM json_each(?)', 1, '[0,1,2,3,4,5')
        >>> con = sqlite3.connect(":memory:")
        >>> con.execute("SELECT value, typeof(value) FROM json_each(?)", in_list(
        ...     [7, "7", None] * 400).params).fetchmany(3)
        [(7, 'integer'), ('7', 'text'), (None, 'null')]
    """
    values = values if isinstance(values, list) else list(values)
    if len(values) <= INLINE_VALUES:
        return InList(",".join("?" * len(values)), values)
    # allow_nan=False: SQLite's JSON has no NaN; no caller passes floats
    text = json.dumps(values, separators=(",", ":"), allow_nan=False)
    return InList("SELECT value FROM json_each(?)", [text])


def check_json1(con: sqlite3.Connection) -> None:
    """Refuse to open the database on a SQLite without ``json_each`` (:func:`in_list` uses it).

    It is built in since SQLite 3.38 and enabled in the usual older builds (Python's own,
    Debian's...); better a clear error at start than failing requests later.
    """
    try:
        con.execute("SELECT value FROM json_each('[1]')").fetchall()
    except sqlite3.OperationalError as exc:
        raise RuntimeError(
            f"SQLite {sqlite3.sqlite_version} has no JSON1 functions (json_each: {exc}); "
            "the embedded backend needs SQLite 3.38 or a build with JSON1 enabled."
        ) from None


def in_use_path(path: Path) -> Path:
    """The lock file of the database at ``path`` (``synapse.sqlite3.lock`` beside it)."""
    return path.with_name(path.name + ".lock")


def hold_in_use(path: Path) -> IO[bytes] | None:
    """A shared lock on the lock file of the database at ``path``, held until the returned
    file is closed (None where the platform has no ``flock``). Several backends may share
    it; :func:`is_in_use` asks for it exclusively."""
    if fcntl is None:
        return None
    handle = open(in_use_path(path), "ab")  # noqa: SIM115 - held open for the database's life
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
    except OSError:
        handle.close()
        raise
    return handle


def is_in_use(path: Path) -> bool:
    """True while a backend has the database at ``path`` open (in any process).

    Example:
        >>> import tempfile
        >>> db = Database(Path(tempfile.mkdtemp()) / "synapse.sqlite3")
        >>> is_in_use(db.path), db.close(), is_in_use(db.path)
        (True, None, False)
    """
    lock = in_use_path(path)
    if fcntl is None or not lock.exists():
        return False
    with open(lock, "ab") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return False


class Database:
    """Thread-safe access to the SQLite file.

    Example:
        >>> db = Database(Path(tmp) / "synapse.sqlite3")
        >>> with db.write() as con:
        ...     _ = con.execute("INSERT INTO tenants (code, name) VALUES (?, ?)", ("t", "T"))
        >>> db.scalar("SELECT name FROM tenants WHERE code = ?", ("t",))
        'T'
        >>> db.close()
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        #: a shared lock on ``<file>.lock`` while the database is open: ``--fresh`` takes it
        #: exclusively before wiping a data dir, so it never wipes one a backend is using
        self._in_use = hold_in_use(self.path)
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        #: bumped by every write; caches keyed on it (page counts) never serve stale data
        self.generation = 0
        self._count_cache: dict[tuple, int] = {}
        #: where pages of id-ordered listings start, until the next write (keyset pages)
        self.page_marks = PageMarks()
        #: one list page is read and rendered at a time (see :func:`~.http.paginate`)
        self.page_lock = threading.Lock()
        check_json1(self.con)
        with self._write_lock:
            self.con.executescript(SCHEMA)  # executescript manages its own transaction
            self._add_missing_columns()
        with self.write() as con:
            con.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )

    #: columns added after a data directory may have been created: (table, column, type)
    ADDED_COLUMNS = (("agents", "token", "TEXT"),)

    def _add_missing_columns(self) -> None:
        """Bring a data directory written by an older version up to the current schema."""
        for table, column, kind in self.ADDED_COLUMNS:
            have = {row[1] for row in self.con.execute(f"PRAGMA table_info({table})")}
            if column not in have:
                self.con.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute("PRAGMA foreign_keys=ON")
        # 2 MB of private page cache per connection (one per server thread): the OS page cache
        # keeps the file warm for all of them, while 64 MB each grew the server by that much
        # for every thread that served part of a large listing
        con.execute("PRAGMA cache_size=-2048")
        with self._connections_lock:
            self._connections.append(con)
        return con

    @property
    def con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = self._local.con = self._connect()
        return con

    def all(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        return self.con.execute(sql, tuple(params)).fetchall()

    def one(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Row | None:
        return self.con.execute(sql, tuple(params)).fetchone()

    def scalar(self, sql: str, params: Iterable[Any] = ()) -> Any:
        row = self.con.execute(sql, tuple(params)).fetchone()
        return None if row is None else row[0]

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A serialised transaction: commits on success, rolls back on any exception."""
        with self._write_lock:
            con = self.con
            # odd while a write is under way, even again after it (a sequence lock): a reader
            # that sees the same even generation before and after its reads saw no write
            outermost = self.generation % 2 == 0
            if outermost:
                self.generation += 1
            try:
                con.execute("BEGIN IMMEDIATE")
                try:
                    yield con
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                con.execute("COMMIT")
            finally:
                if outermost:
                    self.generation += 1
                self._count_cache.clear()
                self.page_marks.clear()

    def settled(self) -> int | None:
        """The write generation when no write is under way, else None (see :meth:`write`)."""
        generation = self.generation
        return None if generation % 2 else generation

    def count(self, sql: str, params: Iterable[Any] = ()) -> int:
        """``SELECT COUNT(*)`` cached until the next write (pages of one listing share it)."""
        generation = self.generation
        key = (sql, tuple(params), generation)
        cached = self._count_cache.get(key)
        if cached is None:
            cached = self.scalar(sql, key[1])
            if generation % 2 == 0 and self.generation == generation:  # no write meanwhile
                if len(self._count_cache) > 512:
                    self._count_cache.clear()
                self._count_cache[key] = cached
        return cached

    def close(self) -> None:
        if self._in_use is not None:
            self._in_use.close()  # closing the file releases its lock
            self._in_use = None
        with self._connections_lock:
            for con in self._connections:
                with contextlib.suppress(sqlite3.Error):
                    con.close()
            self._connections.clear()
        self._local = threading.local()

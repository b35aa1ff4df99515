"""The run store's SQL: its schema, and transactions that turn a full disk into an
:class:`~autocnn.errors.EnvironmentFault` (:mod:`autocnn.optimize.store` documents the tables).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from autocnn.errors import EnvironmentFault

# PRAGMA application_id marks a file as ours ("acnn"); user_version is the schema version.
APPLICATION_ID = 0x61636E6E
SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE configs (
    config_id INTEGER PRIMARY KEY,
    config TEXT NOT NULL,
    model_based INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE evaluations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    config_id INTEGER NOT NULL REFERENCES configs(config_id),
    budget REAL NOT NULL,
    previous_budget REAL,
    bracket INTEGER NOT NULL,
    stage INTEGER NOT NULL,
    status TEXT NOT NULL,
    loss REAL,
    metrics TEXT,
    error TEXT,
    seconds REAL,
    cost REAL,
    worker TEXT,
    submitted REAL NOT NULL,
    started REAL,
    finished REAL
);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('ask', 'tell')),
    evaluation_id INTEGER REFERENCES evaluations(id),
    time REAL NOT NULL
);
CREATE INDEX evaluations_config ON evaluations(config_id);
CREATE INDEX evaluations_budget ON evaluations(budget);
CREATE INDEX evaluations_status ON evaluations(status);
"""

# The ``snapshots`` table (optimizer states, :mod:`autocnn.optimize.snapshot`) is created the same
# way: a store without it has none and resumes by full replay.
# Indexes that keep the per-event and status queries fast on a long run (100k evaluations): the
# incumbent is one index lookup instead of a sort of every ok row, summary()'s totals and config
# count scan a narrow index instead of the wide rows (metrics JSON, configs). They hold no data,
# so a store written before they existed gets them when it is next opened for writing.
INDEXES = """
CREATE INDEX IF NOT EXISTS evaluations_ranking ON evaluations(status, budget DESC, loss, id);
CREATE INDEX IF NOT EXISTS evaluations_totals ON evaluations(seconds, cost, submitted, finished);
CREATE INDEX IF NOT EXISTS configs_model_based ON configs(model_based);
CREATE TABLE IF NOT EXISTS snapshots (
    seq INTEGER PRIMARY KEY,
    state TEXT NOT NULL,
    pending TEXT NOT NULL,
    time REAL NOT NULL
);
"""


class Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ROLLBACK on error): one event, all or nothing."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, error: BaseException | None, *exc: object) -> None:
        if exc_type is None:
            try:
                self._db.execute("COMMIT")
                return
            except sqlite3.OperationalError as failed:
                error = failed
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")
        if isinstance(error, sqlite3.OperationalError) and _disk_full(error):
            path = self._db.execute("PRAGMA database_list").fetchone()[2]
            raise EnvironmentFault(
                f"stopped: the disk holding {path} is full ({error}). The store is intact: "
                "the event being written was rolled back, everything before it is kept. Free "
                f"space, then continue with: autocnn optimize --resume {Path(path).parent}"
            ) from error
        if exc_type is None:
            raise error  # a COMMIT that failed for another reason


def _disk_full(error: sqlite3.OperationalError) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    return code == sqlite3.SQLITE_FULL or "disk is full" in str(error)

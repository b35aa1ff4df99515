"""The run store: one SQLite file (``run.db``) per run folder that records everything a run does.

Tables:

- ``settings``: key -> JSON value (method, eta, budgets, seed, dataset, space name, ...).
- ``configs``: every configuration the optimizer proposed (JSON) and whether the model picked it.
- ``evaluations``: one row per (config, budget) the optimizer asked for; ``pending`` until its
  result arrives, then ok / diverged / failed / crashed with loss, metrics, error, timings.
- ``events``: the exact order of ``ask`` / ``tell`` calls, so a resumed run can replay them into a
  fresh optimizer and reach the very same state. An ``ask`` that returned nothing is logged with a
  NULL evaluation id, because even an empty ask belongs to the sequence being replayed.
- ``snapshots``: the optimizer's state (JSON) after the event ``seq``, with the evaluations
  pending at that point; a resume loads the newest and replays only the later events. Only the
  newest :data:`~autocnn.optimize.snapshot.SNAPSHOTS_KEPT` are kept.

Every event is its own transaction (a ``kill -9`` loses at most the evaluation in flight), and
the database runs in WAL mode so ``autocnn status`` can read it while the run writes.

Example::

    store = Store.open(run_dir / "run.db", create=True, settings={"method": "bohb", "eta": 3})
    evaluation_id = store.record_ask(trial)
    store.record_tell(evaluation_id, result)
    print(store.summary().best_loss)
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from autocnn.errors import RunError
from autocnn.optimize.folder import STORE_NAME
from autocnn.optimize.records import (
    PENDING,
    ConfigRow,
    EvaluationRow,
    EventRow,
    Incumbent,
    StoreSummary,
    to_plain,
)
from autocnn.optimize.store_read import StoreReader
from autocnn.optimize.store_sql import (
    APPLICATION_ID,
    INDEXES,
    SCHEMA,
    SCHEMA_VERSION,
    Transaction,
)
from autocnn.optimize.trial import STATUSES, Result, Trial

__all__ = [
    "PENDING",
    "STORE_NAME",
    "ConfigRow",
    "EvaluationRow",
    "EventRow",
    "Incumbent",
    "Store",
    "StoreSummary",
    "to_plain",
]


def _dumps(value: Any) -> str:
    return json.dumps(to_plain(value), allow_nan=False, sort_keys=True)


class Store(StoreReader):
    """A run's SQLite file. Open with :meth:`open`; use as a context manager to close it.
    Writing is here; every query is :class:`~autocnn.optimize.store_read.StoreReader`'s."""

    # ----------------------------------------------------------------- opening
    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        create: bool = False,
        settings: Mapping[str, Any] | None = None,
        readonly: bool = False,
    ) -> Store:
        """Open (or with ``create=True`` create) the store at ``path``.

        ``path`` may be the run folder or the ``run.db`` file. With ``settings`` on an existing
        store, they must equal the stored ones (RunError listing the differences otherwise).

        Example::

            with Store.open("runs/a", readonly=True) as store:
                print(store.summary().counts)
        """
        path = Path(path)
        if path.is_dir() or path.suffix != ".db":
            path = path / STORE_NAME
        exists = path.exists()
        if not exists and not create:
            raise RunError(f"no run store at {path}; start the run first or check the run folder")
        if not exists and readonly:
            raise RunError(f"no run store at {path}")
        if exists:
            store = cls._connect(path, readonly)
            store._check_is_store()
            if not readonly:
                store._add_indexes()
            if settings is not None:
                try:
                    store.check_settings(settings)
                except RunError:
                    store.close()
                    raise
            return store
        path.parent.mkdir(parents=True, exist_ok=True)
        store = cls._connect(path, readonly=False)
        store._initialise(settings or {})
        return store

    @classmethod
    def _connect(cls, path: Path, readonly: bool) -> Store:
        try:
            if readonly:
                connection = sqlite3.connect(
                    f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30, isolation_level=None
                )
            else:
                connection = sqlite3.connect(path, timeout=30, isolation_level=None)
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL survives kill -9
            connection.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as error:
            raise RunError(
                f"{path} is not an autocnn run store ({error}); choose another run folder"
            ) from error
        return cls(connection, path, readonly)

    def _check_is_store(self) -> None:
        try:
            app_id = self._db.execute("PRAGMA application_id").fetchone()[0]
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as error:
            self.close()
            raise RunError(
                f"{self.path} is not an autocnn run store ({error}); choose another run folder"
            ) from error
        if app_id != APPLICATION_ID:
            self.close()
            raise RunError(
                f"{self.path} is an SQLite file but not an autocnn run store; "
                "choose another run folder"
            )
        if version != SCHEMA_VERSION:
            self.close()
            raise RunError(
                f"{self.path} has store version {version}, this autocnn reads version "
                f"{SCHEMA_VERSION}; use the autocnn release that wrote it"
            )

    def _initialise(self, settings: Mapping[str, Any]) -> None:
        with self._transaction():
            for statement in (SCHEMA + INDEXES).split(";"):
                if statement.strip():
                    self._db.execute(statement)
            self._db.executemany(
                "INSERT INTO settings VALUES (?, ?)",
                [(str(k), _dumps(v)) for k, v in settings.items()],
            )
            self._db.execute(f"PRAGMA application_id={APPLICATION_ID}")
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _add_indexes(self) -> None:
        with self._transaction():
            for statement in INDEXES.split(";"):
                if statement.strip():
                    self._db.execute(statement)

    def _transaction(self) -> Transaction:
        if self.readonly:
            raise RunError(f"{self.path} was opened read-only")
        return Transaction(self._db)

    # ---------------------------------------------------------------- settings
    def check_settings(self, settings: Mapping[str, Any], keys: list[str] | None = None) -> None:
        """RunError naming every key (of ``keys``, default all) whose value differs from the run's.

        Nested settings are compared key by key and named with dots (``optimizer.eta``).
        """
        stored, given = _flatten(self.settings), _flatten(json.loads(_dumps(settings)))
        names = set(stored) | set(given)
        if keys is not None:
            names = {n for n in names if any(n == k or n.startswith(k + ".") for k in keys)}
        differences = [
            f"{name}: run has {stored.get(name, '<unset>')!r}, given {given.get(name, '<unset>')!r}"
            for name in sorted(names)
            if stored.get(name, "<unset>") != given.get(name, "<unset>")
        ]
        if differences:
            raise RunError(
                f"the settings differ from the run in {self.path.parent}: "
                + "; ".join(differences)
                + ". Resume with the run's original settings or start a new run folder."
            )

    # ----------------------------------------------------------------- writing
    def record_ask(self, trial: Trial | None) -> int | None:
        """Log an ask; a trial also gets a pending evaluation row. Returns its id (or None)."""
        now = time.time()
        with self._transaction():
            if trial is None:
                self._db.execute(
                    "INSERT INTO events (kind, evaluation_id, time) VALUES ('ask', NULL, ?)", (now,)
                )
                return None
            self._db.execute(
                "INSERT OR IGNORE INTO configs VALUES (?, ?, ?, ?)",
                (int(trial.config_id), _dumps(trial.config), int(bool(trial.model_based)), now),
            )
            cursor = self._db.execute(
                "INSERT INTO evaluations (config_id, budget, previous_budget, bracket, stage, "
                "status, submitted) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    int(trial.config_id),
                    float(trial.budget),
                    None if trial.previous_budget is None else float(trial.previous_budget),
                    int(trial.bracket),
                    int(trial.stage),
                    PENDING,
                    now,
                ),
            )
            evaluation_id = int(cursor.lastrowid)
            self._db.execute(
                "INSERT INTO events (kind, evaluation_id, time) VALUES ('ask', ?, ?)",
                (evaluation_id, now),
            )
        return evaluation_id

    def mark_started(self, evaluation_id: int, started: float | None = None) -> None:
        with self._transaction():
            self._db.execute(
                "UPDATE evaluations SET started = ? WHERE id = ?",
                (time.time() if started is None else started, evaluation_id),
            )

    def record_tell(self, evaluation_id: int, result: Result, worker: str | None = None) -> None:
        """Store a finished evaluation's result and log the tell, in one transaction."""
        if result.status not in STATUSES:
            raise ValueError(f"unknown status {result.status!r}")
        loss = float(result.loss)
        with self._transaction():
            cursor = self._db.execute(
                "UPDATE evaluations SET status = ?, loss = ?, metrics = ?, error = ?, seconds = ?, "
                "cost = ?, worker = ?, finished = ? WHERE id = ? AND status = ?",
                (
                    result.status,
                    loss if not math.isnan(loss) else math.inf,
                    _dumps(result.metrics),
                    result.error,
                    float(result.seconds),
                    float(result.cost),
                    worker,
                    time.time(),
                    int(evaluation_id),
                    PENDING,
                ),
            )
            if cursor.rowcount != 1:
                raise RunError(
                    f"evaluation {evaluation_id} in {self.path} is not pending; "
                    "was the run resumed twice at the same time?"
                )
            self._db.execute(
                "INSERT INTO events (kind, evaluation_id, time) VALUES ('tell', ?, ?)",
                (int(evaluation_id), time.time()),
            )

    def record_snapshot(self, state: str, keep: int = 2) -> int:
        """Store an optimizer state (JSON text) as the state after the latest event, with the
        evaluations pending now; drop all but the newest ``keep``. Returns the event's seq."""
        with self._transaction():
            seq = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
            pending = [row[0] for row in self._db.execute(
                "SELECT id FROM evaluations WHERE status = ? ORDER BY id", (PENDING,)
            )]  # fmt: skip
            self._db.execute(
                "INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?, ?)",
                (seq, state, json.dumps(pending), time.time()),
            )
            self._db.execute(
                "DELETE FROM snapshots WHERE seq NOT IN "
                "(SELECT seq FROM snapshots ORDER BY seq DESC LIMIT ?)",
                (max(1, keep),),
            )
        return int(seq)


def _flatten(settings: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat

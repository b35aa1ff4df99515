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


class Store:
    """A run's SQLite file. Open with :meth:`open`; use as a context manager to close it."""

    def __init__(self, connection: sqlite3.Connection, path: Path, readonly: bool) -> None:
        self._db = connection
        self.path = path
        self.readonly = readonly

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

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- settings
    @property
    def settings(self) -> dict[str, Any]:
        rows = self._db.execute("SELECT key, value FROM settings ORDER BY key").fetchall()
        return {key: json.loads(value) for key, value in rows}

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

    # ----------------------------------------------------------------- reading
    def snapshots(self) -> list[tuple[int, str, str]]:
        """``(seq, state JSON, pending evaluation ids JSON)`` of the stored optimizer states,
        newest first (none in a store written before snapshots existed)."""
        try:
            rows = self._db.execute(
                "SELECT seq, state, pending FROM snapshots ORDER BY seq DESC"
            ).fetchall()
        except sqlite3.OperationalError:  # an older store opened read-only: no table
            return []
        return [(int(seq), state, pending) for seq, state, pending in rows]

    def configs(self) -> list[ConfigRow]:
        rows = self._db.execute("SELECT * FROM configs ORDER BY config_id").fetchall()
        return [ConfigRow(row[0], json.loads(row[1]), bool(row[2]), row[3]) for row in rows]

    def config(self, config_id: int) -> dict[str, Any]:
        row = self._db.execute(
            "SELECT config FROM configs WHERE config_id = ?", (int(config_id),)
        ).fetchone()
        if row is None:
            raise RunError(f"no config {config_id} in {self.path}")
        return json.loads(row[0])

    def evaluations(
        self, *, status: str | None = None, config_id: int | None = None
    ) -> list[EvaluationRow]:
        """Evaluations in the order they were asked for, optionally filtered."""
        query, params = "SELECT * FROM evaluations", []
        clauses = []
        if status is not None:
            clauses.append("status = ?")
            params.append(status)
        if config_id is not None:
            clauses.append("config_id = ?")
            params.append(int(config_id))
        if clauses:
            query += " WHERE " + " AND ".join(clauses)
        rows = self._db.execute(query + " ORDER BY id", params).fetchall()
        return [_evaluation(row) for row in rows]

    def evaluation(self, evaluation_id: int) -> EvaluationRow:
        row = self._db.execute(
            "SELECT * FROM evaluations WHERE id = ?", (int(evaluation_id),)
        ).fetchone()
        if row is None:
            raise RunError(f"no evaluation {evaluation_id} in {self.path}")
        return _evaluation(row)

    def last_seq(self) -> int:
        """The seq of the latest event (0: none yet)."""
        return int(self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])

    def snapshot_seq(self) -> int:
        """The last event the newest optimizer snapshot includes (0: none)."""
        try:
            row = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM snapshots").fetchone()
        except sqlite3.OperationalError:  # an older store opened read-only: no table
            return 0
        return int(row[0])

    def trial(self, evaluation_id: int) -> Trial:
        """The Trial an evaluation was asked as (its config as stored: plain JSON values)."""
        row = self.evaluation(evaluation_id)
        model_based = self._db.execute(
            "SELECT model_based FROM configs WHERE config_id = ?", (row.config_id,)
        ).fetchone()[0]
        return Trial(
            config_id=row.config_id,
            config=self.config(row.config_id),
            budget=row.budget,
            previous_budget=row.previous_budget,
            bracket=row.bracket,
            stage=row.stage,
            model_based=bool(model_based),
        )

    def events(self, after: int = 0) -> list[EventRow]:
        """The ask/tell log in order; ``after``: only the events after that seq."""
        rows = self._db.execute(
            "SELECT seq, kind, evaluation_id, time FROM events WHERE seq > ? ORDER BY seq",
            (int(after),),
        ).fetchall()
        return [EventRow(*row) for row in rows]

    def pending(self) -> list[EvaluationRow]:
        return self.evaluations(status=PENDING)

    def count(self, *, done_only: bool = False) -> int:
        query = "SELECT COUNT(*) FROM evaluations"
        if done_only:
            query += f" WHERE status != '{PENDING}'"
        return int(self._db.execute(query).fetchone()[0])

    def incumbent(self) -> Incumbent | None:
        """Lowest loss among ok evaluations at the largest budget that has an ok evaluation."""
        row = self._db.execute(
            "SELECT e.config_id, c.config, e.budget, e.loss, e.id FROM evaluations e "
            "JOIN configs c USING (config_id) WHERE e.status = 'ok' "
            "ORDER BY e.budget DESC, e.loss ASC, e.id ASC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        return Incumbent(row[0], json.loads(row[1]), row[2], row[3], row[4])

    def scored(self) -> list[Any]:
        """Every ok evaluation as an :class:`autocnn.optimize.incumbent.Scored` row (what the
        incumbent rules of that module take)."""
        from autocnn.optimize.incumbent import Scored

        rows = self._db.execute(
            "SELECT config_id, budget, loss, id FROM evaluations WHERE status = 'ok'"
        ).fetchall()
        return [Scored(*row) for row in rows]

    def robust_incumbent(self) -> Incumbent | None:
        """The incumbent by :func:`autocnn.optimize.incumbent.choose` (for time-limited runs)."""
        from autocnn.optimize.incumbent import choose

        best = choose(self.scored())
        if best is None:
            return None
        return Incumbent(best.config_id, self.config(best.config_id), best.budget, best.loss,
                         best.evaluation_id)  # fmt: skip

    def n_stopped_early(self) -> int:
        """Evaluations ended by learning-curve early stopping (a scan of the metrics: not for
        per-event use; the key is :data:`autocnn.optimize.early_stopping.STOPPED_EARLY`)."""
        query = "SELECT COUNT(*) FROM evaluations WHERE json_extract(metrics, '$.stopped_early')"
        return int(self._db.execute(query + " IS NOT NULL").fetchone()[0])

    def summary(self) -> StoreSummary:
        counts = dict(
            self._db.execute("SELECT status, COUNT(*) FROM evaluations GROUP BY status").fetchall()
        )
        totals = self._db.execute(
            "SELECT COALESCE(SUM(seconds), 0), COALESCE(SUM(cost), 0), MIN(submitted), "
            "MAX(finished) FROM evaluations"
        ).fetchone()
        n_configs = self._db.execute("SELECT COUNT(*) FROM configs").fetchone()[0]
        return StoreSummary(
            counts={status: int(counts.get(status, 0)) for status in (PENDING, *STATUSES)},
            n_configs=int(n_configs),
            n_done=sum(int(n) for status, n in counts.items() if status != PENDING),
            incumbent=self.incumbent(),
            seconds=float(totals[0]),
            cost=float(totals[1]),
            first_submitted=totals[2],
            last_finished=totals[3],
        )


def _flatten(settings: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _evaluation(row: tuple) -> EvaluationRow:
    values = list(row)
    values[8] = json.loads(values[8]) if values[8] else {}
    return EvaluationRow(*values)

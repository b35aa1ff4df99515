"""The run store's queries: everything that reads ``run.db`` (:mod:`autocnn.optimize.store`).

:class:`~autocnn.optimize.store.Store` adds opening, creating and writing; a store opened
read-only (``autocnn status``, the report, a fit choosing its incumbent) uses only these.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, TypeVar

from autocnn.errors import RunError
from autocnn.optimize.records import (
    PENDING,
    ConfigRow,
    EvaluationRow,
    EventRow,
    Incumbent,
    StoreSummary,
)
from autocnn.optimize.trial import STATUSES, Trial

Opened = TypeVar("Opened", bound="StoreReader")  # a Store's `with` gives a Store (Python 3.10)


class StoreReader:
    """Queries of one open connection to a run store (see :class:`autocnn.optimize.store.Store`)."""

    def __init__(self, connection: sqlite3.Connection, path: Path, readonly: bool) -> None:
        self._db = connection
        self.path = path
        self.readonly = readonly

    def close(self) -> None:
        self._db.close()

    def __enter__(self: Opened) -> Opened:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def settings(self) -> dict[str, Any]:
        rows = self._db.execute("SELECT key, value FROM settings ORDER BY key").fetchall()
        return {key: json.loads(value) for key, value in rows}

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


def _evaluation(row: tuple) -> EvaluationRow:
    values = list(row)
    values[8] = json.loads(values[8]) if values[8] else {}
    return EvaluationRow(*values)

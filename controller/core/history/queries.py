"""Reading the history back: the sessions with their totals, one session in full, and the sets
in the columns of the Strong app's CSV export (what `halfstep history` and support bundles
show)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from controller.core.history.locking import Locks


class Queries(Locks):
    """The reading side of History."""

    def sessions(self) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT s.*, COUNT(t.id) AS sets, COALESCE(SUM(t.full_reps), 0) AS reps, "
            "COALESCE(SUM(t.full_reps * t.load_kg), 0) AS volume_kg "
            "FROM sessions s LEFT JOIN sets t ON t.session_id = s.id "
            "GROUP BY s.id ORDER BY s.id").fetchall()
        return [self._as_seen(dict(r)) for r in rows]

    def session(self, session_id: int) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM sessions WHERE id=?", (session_id,)).fetchone()
        if row is None:
            return None
        out = self._as_seen(dict(row))
        out["red_flags"] = json.loads(out["red_flags"])
        out["sets"] = []
        for s in self.db.execute("SELECT * FROM sets WHERE session_id=? ORDER BY id",
                                 (session_id,)):
            d = dict(s)
            d["reps"] = [dict(r) for r in self.db.execute(
                "SELECT * FROM reps WHERE set_id=? ORDER BY idx", (s["id"],))]
            out["sets"].append(d)
        out["checkins"] = [dict(r) for r in self.db.execute(
            "SELECT exercise, pain, at FROM checkins WHERE session_id=? ORDER BY id",
            (session_id,))]
        out["answers"] = [{**dict(r), "answer": None if r["answer"] is None
                           else json.loads(r["answer"])} for r in self.db.execute(
            "SELECT question, answer, red_flag, at FROM answers WHERE session_id=? ORDER BY id",
            (session_id,))]
        out["decisions"] = [{**dict(r), "reasons": json.loads(r["reasons"])}
                            for r in self.db.execute(
                                "SELECT exercise, load_kg, change, reasons FROM decisions "
                                "WHERE session_id=? ORDER BY id", (session_id,))]
        out["safety_events"] = [{**dict(r), "data": json.loads(r["data"])}
                                for r in self.db.execute(
                                    "SELECT at, kind, cause, load_kg, seq, firmware, data FROM "
                                    "safety_events WHERE session_id=? ORDER BY id",
                                    (session_id,))]
        return out

    def strong_rows(self) -> list[dict[str, Any]]:
        """One row per set, in the columns of the Strong app's CSV export."""
        out = []
        q = ("SELECT s.id AS sid, s.started_at, s.ended_at, s.notes AS wnotes, t.* FROM sets t "
             "JOIN sessions s ON s.id = t.session_id ORDER BY s.id, t.id")
        for r in self.db.execute(q):
            start = dt.datetime.fromisoformat(r["started_at"])
            end = dt.datetime.fromisoformat(r["ended_at"] or r["started_at"])
            minutes = max(0, round((end - start).total_seconds() / 60))
            out.append({
                "Date": start.strftime("%Y-%m-%d %H:%M:%S"),
                "Workout Name": f"Halfstep session {r['sid']}",
                "Duration": f"{minutes}m",
                "Exercise Name": r["exercise"],
                "Set Order": r["set_index"],
                "Weight": r["load_kg"],
                "Reps": r["full_reps"],
                "Distance": 0,
                "Seconds": round(r["time_under_tension_s"] or 0),
                "Notes": ("assessment" if r["kind"] == "assessment" else "")
                + (f"; {r['partial_reps']} partial" if r["partial_reps"] else ""),
                "Workout Notes": r["wnotes"],
                "RPE": "",
            })
        return out

"""Check the store and repair what a crash, a full disk or a hand edit left: ``liqheat store check [--repair]``.

Repair never deletes data: an unreadable month file or ``cursors.json`` is moved under ``quarantine/``
(with its path kept) for a person to look at, and a month whose rows are out of order or repeated is
rewritten merged on its key, as every write would have left it. What was quarantined comes back by
importing or fetching that month again. The one file removed is a part whose rows the month's
data.parquet already holds (see :mod:`.parquet_store`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from liqheat.store.parquet_store import INTERRUPTED, KEYS, Store, parts, read_file, read_month, through, write_month

QUARANTINE = "quarantine"
_AGAIN = "moved to quarantine/; import or fetch the month again"


@dataclass(frozen=True)
class Problem:
    """One thing wrong in the store: the file, what is wrong, and what ``--repair`` does about it."""

    path: Path
    what: str
    repair: str
    action: str  # quarantine, merge or remove


def _file_problem(path: Path, month: str) -> tuple[pa.Table | None, Problem | None]:
    """One file of a month: its rows, or what is wrong with it."""
    try:
        table = read_file(path)
    except (pa.ArrowException, OSError) as exc:
        reason = str(exc).splitlines()[0][:160]
        return None, Problem(path, f"not a readable Parquet file ({reason})", _AGAIN, "quarantine")
    if "ts" not in table.column_names:
        return None, Problem(path, "has no ts column", _AGAIN, "quarantine")
    ts = table.column("ts")
    if ts.null_count:
        return None, Problem(path, f"{ts.null_count} row(s) without a time", "moved to quarantine/", "quarantine")
    if len(ts):
        bounds = pc.min_max(ts)
        first, last = (f"{bounds[end].as_py():%Y-%m}" for end in ("min", "max"))
        if first != month or last != month:
            return None, Problem(path, f"holds rows of {first}..{last}, not only {month}", "moved to quarantine/", "quarantine")
    return table, None


def _month_problems(path: Path, kind: str) -> list[Problem]:
    """What is wrong with the month of the data.parquet at ``path``: its files one by one (the parts appended after
    it too), then its rows together (in key order, each key once)."""
    folder = path.parent
    month = folder.name.removeprefix("month=")
    base, problem = _file_problem(path, month)
    listed = parts(os.listdir(folder))
    if base is None:
        assert problem is not None
        return [problem] + [Problem(folder / name, "rows appended to a month whose data.parquet is quarantined", _AGAIN,
                                    "quarantine") for _, name in listed]  # fmt: skip
    covered = through(base.schema)
    found: list[Problem] = []
    tables = [base]
    for seq, name in listed:
        if seq <= covered:
            found.append(Problem(folder / name, "rows data.parquet already holds (a fold stopped before removing them)",
                                 "removed", "remove"))  # fmt: skip
            continue
        table, problem = _file_problem(folder / name, month)
        if table is not None:
            try:
                pa.concat_tables([base.slice(0, 0), table.slice(0, 0)], promote_options="permissive")
            except pa.ArrowException as exc:
                problem = Problem(folder / name, f"columns unlike data.parquet's ({str(exc)[:120]})", _AGAIN, "quarantine")
        if problem is not None:
            found.append(problem)
        elif table is not None:
            tables.append(table)
    whole = pa.concat_tables(tables, promote_options="permissive")
    key = [k for k in KEYS[kind] if k in whole.column_names]
    rows = whole.select(key)
    distinct = rows.group_by(key).aggregate([]).num_rows
    if distinct != rows.num_rows:
        found.append(Problem(path, f"{rows.num_rows - distinct} row(s) repeat a key ({', '.join(key)})", "merged on its key",
                             "merge"))  # fmt: skip
        return found
    order = pc.sort_indices(rows, sort_keys=[(k, "ascending") for k in key])
    if not pc.all(pc.equal(order, pa.array(range(rows.num_rows), type=order.type))).as_py():
        found.append(Problem(path, "rows out of order", "rewritten in key order", "merge"))
    return found


def check(store: Store) -> list[Problem]:
    """Everything wrong with ``store``, files in path order (reads only)."""
    problems: list[Problem] = []
    root = store.root
    for kind in KEYS:
        for path in sorted((root / kind).glob("venue=*/symbol=*/timeframe=*/month=*/data.parquet")):
            problems += _month_problems(path, kind)
    for path in sorted(p for p in root.rglob(".*.tmp") if p.is_file() and INTERRUPTED.match(p.name)):
        if QUARANTINE not in path.relative_to(root).parts:
            problems.append(Problem(path, "temporary file of an interrupted write", "removed", "remove"))
    cursors = root / "cursors.json"
    if cursors.exists():
        try:
            data = json.loads(cursors.read_text(encoding="utf-8"))
            valid = isinstance(data, dict) and all(isinstance(v, str) for v in data.values())
            reason = "" if valid else "not an object of times"
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            reason = f"not valid JSON ({exc})"[:160]
        if reason:
            problems.append(Problem(cursors, reason, "moved to quarantine/; fetch walks again from its --since", "quarantine"))
    return problems


def repair(store: Store) -> list[Problem]:
    """Fix every problem :func:`check` finds, holding the writer lock; returns what was done."""
    with store.writer():
        removed = [Problem(p, "temporary file of an interrupted write", "removed", "remove") for p in store.recovered]
        problems = check(store)
        for problem in problems:
            if problem.action == "remove":
                problem.path.unlink(missing_ok=True)
            elif problem.action == "quarantine":
                target = store.root / QUARANTINE / problem.path.relative_to(store.root)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(problem.path, target)
            else:
                kind = problem.path.relative_to(store.root).parts[0]
                rows = read_month(problem.path.parent)[0].to_pandas()
                write_month(problem.path, rows, [k for k in KEYS[kind] if k in rows.columns])
    return removed + problems

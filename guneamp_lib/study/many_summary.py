"""The summary table of a ``train-many`` run: one line per row, as CSV, Markdown and JSON (notebook 11).

Rewritten, atomically, after every row (:mod:`guneamp_lib.study.many`), so a run cut off
still leaves a table of what it finished.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from .. import paths

SUMMARY_COLUMNS = ("row", "name", "status", "model", "validation_esr", "test_esr", "steps", "seconds", "out", "error")


def summary_paths(manifest, out=None) -> dict[str, Path]:
    """Where the summary goes: ``<manifest name>.summary.{csv,md,json}`` beside it, or in ``out``."""
    manifest = Path(manifest)
    folder = Path(out) if out is not None else manifest.parent
    return {ext: folder / f"{manifest.stem}.summary.{ext}" for ext in ("csv", "md", "json")}


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value).replace("|", "/").replace("\n", " ")


def write_summary(results: list[dict], where: dict[str, Path]) -> None:
    """The summary table as CSV, Markdown and JSON, each written atomically."""
    with paths.atomic_output(where["csv"]) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=SUMMARY_COLUMNS)
            w.writeheader()
            w.writerows({k: _cell(r.get(k)) for k in SUMMARY_COLUMNS} for r in results)
    lines = ["| " + " | ".join(SUMMARY_COLUMNS) + " |", "|" + "---|" * len(SUMMARY_COLUMNS)]
    lines += ["| " + " | ".join(_cell(r.get(k)) for k in SUMMARY_COLUMNS) + " |" for r in results]
    trained = sum(r["status"] in ("trained", "skipped") for r in results)
    head = f"# Training summary\n\n{trained} of {len(results)} captures have a model.\n\n"
    paths.write_text_atomic(where["md"], head + "\n".join(lines) + "\n")
    paths.write_text_atomic(where["json"], json.dumps(results, indent=2))


__all__ = ["SUMMARY_COLUMNS", "summary_paths", "write_summary"]

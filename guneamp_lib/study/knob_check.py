"""``guneamp check --manifest``: every capture of a knob manifest checked, in one table (notebook 13).

A knob capture is dozens of takes; one of them recorded at the wrong rate, cut short or
clipped spoils a model trained on all of them, and it is cheaper to find before training.
Each row gets the checks ``guneamp check`` gives one pair
(:func:`~guneamp_lib.capture.reamp_checks.check_capture_pair`: rates, lengths, lag, levels,
clipping, silence, and the capture signal's findings when the DI is that signal), its
test take too when it has one, and one more that only a set of rows can fail: every row
at the sample rate of the first (one model plays at one rate). A failing row shows its
first problem in one line; the other rows are still checked.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..capture.plan import setting_name
from ..capture.reamp_checks import check_capture_pair
from ..errors import GuneampError
from .manifest import KnobManifest, KnobRow

CHECK_COLUMNS = ("row", "name", "split", "status", "lag", "problem")


@dataclass(frozen=True)
class RowCheck:
    """One row's verdict: ``problem`` is empty when the row is usable.

    Notebook: 13
    """

    row: KnobRow
    sample_rate: int | None
    lag: str
    problem: str
    warnings: int

    @property
    def ok(self) -> bool:
        return not self.problem


def _one_pair(clean, target, max_lag_s: float):
    """(sample rate, lag text, first problem or '', warning count, problem count) of one pair."""
    try:
        report, _ = check_capture_pair(clean, target, max_lag_s=max_lag_s)
    except GuneampError as exc:
        return None, "", str(exc), 0, 1
    lag = f"{report.lag.lag:+d}" if report.lag is not None else "?"
    first = report.problems[0] if report.problems else ""
    return report.clean.sample_rate, lag, first, len(report.warnings), len(report.problems)


def check_row(row: KnobRow, max_lag_s: float) -> RowCheck:
    """The checks of ``guneamp check`` on the row's pair, and on its test take if it has one.

    Notebook: 13
    """
    rate, lag, problem, warns, count = _one_pair(row.clean, row.target, max_lag_s)
    if row.test_clean is not None and row.test_target is not None:
        t_rate, _, t_problem, t_warns, t_count = _one_pair(row.test_clean, row.test_target, max_lag_s)
        warns += t_warns
        if not problem and t_problem:
            problem = f"test take: {t_problem}"
        elif not problem and t_rate is not None and rate is not None and t_rate != rate:
            problem = f"test take: at {t_rate} Hz, the row's take at {rate} Hz"
        count += t_count
    if count > 1:
        problem += f" (and {count - 1} more: guneamp check {row.clean} {row.target})"
    return RowCheck(row, rate, lag, problem, warns)


def check_manifest(manifest: KnobManifest, max_lag_s: float) -> list[RowCheck]:
    """Every row checked; a row at another sample rate than the first usable one fails.

    Notebook: 13
    """
    checks = [check_row(row, max_lag_s) for row in manifest.rows]
    rates = [c.sample_rate for c in checks if c.ok and c.sample_rate is not None]
    if rates:
        first = rates[0]
        checks = [c if c.sample_rate in (None, first) or not c.ok else
                  RowCheck(c.row, c.sample_rate, c.lag, f"at {c.sample_rate} Hz, the first rows at {first} Hz: "
                           "one knob model plays at one rate", c.warnings) for c in checks]
    return checks


def check_table(checks: list[RowCheck]) -> str:
    """The rows as a Markdown table, and a line that counts the usable ones.

    Notebook: 13
    """
    lines = ["| " + " | ".join(CHECK_COLUMNS) + " |", "|" + "---|" * len(CHECK_COLUMNS)]
    for c in checks:
        status = "ok" if c.ok else "FAILED"
        if c.ok and c.warnings:
            status += f" ({c.warnings} warning{'s' if c.warnings > 1 else ''})"
        cells = (str(c.row.index), c.row.name or setting_name(c.row.settings), c.row.split, status, c.lag,
                 c.problem.replace("|", "/"))
        lines.append("| " + " | ".join(cells) + " |")
    good = sum(c.ok for c in checks)
    lines.append("")
    lines.append(f"{good} of {len(checks)} rows usable" + ("" if good == len(checks) else
                 "; fix the FAILED rows (or take them out of the manifest) before training"))
    return "\n".join(lines)


__all__ = ["RowCheck", "check_manifest", "check_row", "check_table"]

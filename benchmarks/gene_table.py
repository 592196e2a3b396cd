"""The gene calls and ``line_test`` over data seeds, and issue 32's targets for the calls.

Both ``quality.py`` (from each ``full_training`` run's ``gene_call_comparison.csv``) and
``gene_calls.py`` (from ``genes.comparison.compare_line_calls`` on data it processed) hand
this module the same records, one comparison table per data seed, so the scores have one
source: the function the evaluation pipeline scores them with. ``gene_call_blocks`` turns
them into what the JSON keeps and render_quality.py renders.
"""

from __future__ import annotations

import json
import math
import statistics

#: The per-line methods compared, in the table's order.
METHODS = ("gene_calls", "line_test")
#: Columns of the table: comparison column -> (title, whether lower is better).
COLUMNS: dict[str, tuple[str, bool]] = {
    "recall": ("recall", False),
    "null_fpr": ("null FPR", True),
    "false_share": ("false share", True),
    "called_lines": ("calls", False),
}
TARGETS = {"recall": 0.90, "null_fpr": 0.01, "false_share": 0.10}


def method_scores(comparison: list[dict]) -> dict[str, dict[str, float]]:
    """The per-line methods' rows of one comparison table (records), by method."""
    return {row["method"]: row for row in comparison if row["method"] in METHODS}


def _value(scores: dict, column: str) -> float:
    value = scores.get(column)
    return float("nan") if value is None else float(value)


def _rows(per_seed: dict[int, dict[str, dict]]) -> list[dict]:
    """Per method: a row per data seed, then the median and the worst over them."""
    rows = []
    for method in METHODS:
        seeds = {seed: scores[method] for seed, scores in sorted(per_seed.items())}
        for seed, scores in seeds.items():
            rows.append(
                {"method": method, "seed": str(seed)} | {c: _value(scores, c) for c in COLUMNS}
            )
        summary = {"median": {}, "worst": {}}
        for column, (_, lower_is_better) in COLUMNS.items():
            values = [v for v in (_value(s, column) for s in seeds.values()) if not math.isnan(v)]
            summary["median"][column] = statistics.median(values) if values else float("nan")
            pick = max if lower_is_better else min
            summary["worst"][column] = pick(values) if values else float("nan")
        summary["worst"]["called_lines"] = float("nan")  # no worse count of calls
        rows += [{"method": method, "seed": name} | cells for name, cells in summary.items()]
    return rows


def _targets(per_seed: dict[int, dict[str, dict]]) -> list[dict]:
    """Issue 32's targets for the gene calls, each judged on every data seed."""
    calls = {seed: scores["gene_calls"] for seed, scores in sorted(per_seed.items())}
    baseline = {seed: scores["line_test"] for seed, scores in sorted(per_seed.items())}

    def shown(values: dict[int, dict], column: str) -> str:
        return " / ".join(f"{_value(s, column):.3f}" for s in values.values())

    checks = [
        (
            f"recall >= {TARGETS['recall']:.2f} on every data seed",
            all(_value(s, "recall") >= TARGETS["recall"] for s in calls.values()),
            shown(calls, "recall"),
        ),
        (
            "recall above line_test's on every data seed",
            all(_value(calls[k], "recall") > _value(baseline[k], "recall") for k in calls),
            f"{shown(calls, 'recall')} against {shown(baseline, 'recall')}",
        ),
        (
            f"null FPR <= {TARGETS['null_fpr']:.2f} on every data seed",
            all(_value(s, "null_fpr") <= TARGETS["null_fpr"] for s in calls.values()),
            shown(calls, "null_fpr"),
        ),
        (
            f"false share <= {TARGETS['false_share']:.2f} on every data seed",
            all(_value(s, "false_share") <= TARGETS["false_share"] for s in calls.values()),
            shown(calls, "false_share"),
        ),
    ]
    return [{"target": what, "met": met, "measured": measured} for what, met, measured in checks]


def gene_call_blocks(per_configuration: dict[str, dict[int, list[dict]]]) -> list[dict]:
    """One block per distinct set of gene-call scores: the configurations that gave it,
    its rows (per seed, median, worst) and, with a truth file, the targets judged.

    ``per_configuration``: configuration -> data seed -> that run's comparison records. The
    calls do not read the model, so every configuration usually gives the same block; one
    that changes the data processing or ``evaluation.gene_calls`` gets its own.
    """
    blocks: list[dict] = []
    for configuration, seeds in per_configuration.items():
        per_seed = {seed: method_scores(comparison) for seed, comparison in seeds.items()}
        key = json.dumps(per_seed, sort_keys=True)  # NaN == NaN here, unlike in a dict
        same = next((b for b in blocks if json.dumps(b["per_seed"], sort_keys=True) == key), None)
        if same is not None:
            same["configurations"].append(configuration)
            continue
        blocks.append({"configurations": [configuration], "per_seed": per_seed})
    for block in blocks:
        per_seed = block.pop("per_seed")
        block["rows"] = _rows(per_seed)
        scored = all("recall" in s[m] for s in per_seed.values() for m in METHODS)
        block["targets"] = _targets(per_seed) if scored else []
    return blocks

"""The quality benchmark's table and the gene calls' (quality.py, gene_calls.py): the record
in, the Markdown body out, as render_tables.py does for the others."""

from __future__ import annotations

from render_tables import _cell, _heading, _listed, _number, _params, _seconds, _table

# --- benchmarks/quality.py ------------------------------------------------------------------

MODEL = "model"
DEFAULT_MODEL = f"{MODEL} (default)"


def quality(record: dict) -> str:
    """Median / worst of every honest score, one row per model configuration and baseline
    (with variants, the model's rows alone: the baselines are the quality table's)."""
    variants = record["variants"]
    rows = [row for row in record["table"] if not variants or row["method"].startswith(MODEL)]
    titles = [key.removesuffix(" (median)") for key in rows[0] if key.endswith(" (median)")]
    body = [
        [
            f"**{row['method']}**" if row["method"] == DEFAULT_MODEL else row["method"],
            *(f"{_number(row[f'{t} (median)'])} / {_number(row[f'{t} (worst)'])}" for t in titles),
        ]
        for row in rows
    ]
    seeds = _listed(record["seeds"])
    text = [
        _heading(record, f"Honest scores, {record['n_mice']:,} mice, data seeds {seeds}"),
        "",
        f"Median / worst over the data seeds (worst: the largest where lower is better), "
        f"one `full_training` per data seed and configuration "
        f"({_listed(record['configurations'])}); extra parameters for every run: "
        f"{_params(record['params'])}. Median `full_training` wall time "
        f"{_seconds(record['median_pipeline_s'])} s. A baseline that reads the model-input "
        'table has a row per configuration when their preprocessing differs. "Controls with '
        "sporadic loss\" is the data's share, not a method's.",
        "",
        _table(["method", *titles], body),
    ]
    if variants:
        text += ["", "Each variant is one change over conf/base (`benchmarks/variants.py`):", ""]
        text += [f"- `{name}`: {_params(params)}" for name, params in variants.items()]
    model = next((row for row in rows if row["method"] == DEFAULT_MODEL), None)
    if model is not None:
        text += ["", "The clusters' targets for the default model (median / worst):", ""]
        text += [f"- {line}" for line in _quality_targets(model, record["table"])]
    if not variants:
        text += ["", *gene_call_tables(record)]
    return "\n".join(text)


def _quality_targets(model: dict, rows: list[dict]) -> list[str]:
    """The clusters' targets for the default model (issue 15's, ARI raised to 0.65 by issue
    32), each with its verdict and figures."""

    def scores(row: dict, title: str) -> list[float | None]:
        return [row[f"{title} (median)"], row[f"{title} (worst)"]]

    def best_baseline(title: str) -> float | None:
        medians = [row[f"{title} (median)"] for row in rows if not row["method"].startswith(MODEL)]
        return max((m for m in medians if m is not None), default=None)

    sporadic = scores(model, "controls with sporadic loss")
    checks = [  # what, the model's figures, their bounds, whether lower is better
        ("NMI centre <= 0.05", scores(model, "NMI centre"), [0.05] * 2, True),
        ("null FPR any cluster <= 0.02", scores(model, "null FPR any cluster"), [0.02] * 2, True),
        ("ARI affected >= 0.65", scores(model, "ARI affected"), [0.65] * 2, False),
        (
            "planted-line recall by cluster enrichment >= 0.85 (issue 15; issue 32 answers it "
            "with the gene calls)",
            scores(model, "planted-line recall"),
            [0.85] * 2,
            False,
        ),
        (
            "controls in HL clusters at most 0.01 above the controls with sporadic loss",
            scores(model, "controls in HL clusters"),
            [None if s is None else s + 0.01 for s in sporadic],
            True,
        ),
    ]
    for title in ("ARI affected", "planted-line recall"):
        above = f"{title} above every baseline's, median"
        checks.append((above, scores(model, title)[:1], [best_baseline(title)], False))
    lines = []
    for what, values, bounds, lower_is_better in checks:
        if None in values or None in bounds:
            verdict = "not measured"
        else:
            pairs = zip(values, bounds, strict=True)
            met = all(v <= b if lower_is_better else v >= b for v, b in pairs)
            verdict = "**met**" if met else "**not met**"
        shown = " / ".join(_number(v) for v in values), " / ".join(_number(b) for b in bounds)
        lines.append(f"{what}: {verdict} ({shown[0]} against {shown[1]})")
    return lines


# --- the gene calls and line_test (quality.py, gene_calls.py) -------------------------------

GENE_COLUMNS = {
    "recall": "planted-line recall",
    "null_fpr": "null-line FPR",
    "false_share": "false share of calls",
    "called_lines": "calls",
}


def gene_call_tables(record: dict) -> list[str]:
    """Per block of the record's ``gene_calls`` (gene_table.py): the gene calls and
    line_test per data seed, median and worst, and issue 32's targets judged."""
    text = []
    for block in record["gene_calls"]:
        body = [
            [row["method"], row["seed"], *(_cell(row[column]) for column in GENE_COLUMNS)]
            for row in block["rows"]
        ]
        text += [
            _heading(record, f"Gene calls and line_test, {record['n_mice']:,} mice"),
            "",
            "Each line against its matched controls (`gene_calls`, docs/gene_calls.md) and "
            "the plain per-line test (`line_test`), scored over the modelled lines against "
            "the truth file; worst: the smallest recall, the largest rates. Configurations: "
            f"{_listed(block['configurations'])}.",
            "",
            _table(["method", "data seed", *GENE_COLUMNS.values()], body),
        ]
        if block["targets"]:
            text += ["", "Issue 32's targets for the gene calls (per data seed):", ""]
            text += [
                f"- {check['target']}: {'**met**' if check['met'] else '**not met**'} "
                f"({check['measured']})"
                for check in block["targets"]
            ]
        text.append("")
    return text


def gene_calls(record: dict) -> str:
    """gene_calls.py's record: the settings it ran with and its gene-call table."""
    return "\n".join(
        [
            f"Data seeds {_listed(record['seeds'])}; gene-call settings changed from conf/base: "
            f"{_params(record['settings'])}. Median gene-call time "
            f"{_seconds(record['median_gene_calls_s'])} s.",
            "",
            *gene_call_tables(record),
        ]
    )

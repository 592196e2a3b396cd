"""One function per benchmark JSON shape: the record in, the Markdown body of its docs table
out (render.py adds the header line and writes the file), and the formatting they share.
The quality and gene-call tables are in render_quality.py. A key the record lacks raises
KeyError: a benchmark whose JSON changed shape must change its table here too."""

from __future__ import annotations

import json
import math


def _number(value: float | None, digits: int = 3) -> str:
    """Scores to ``digits`` decimals, small ones (below 0.01) to one more; None or NaN: –."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if value != 0 and abs(value) < 0.01:
        digits += 1
    return f"{value:.{digits}f}"


def _cell(value: str | float | None) -> str:
    """Text as it is, a count or a number of 10 or more whole, a smaller number a score."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) or (isinstance(value, float) and abs(value) >= 10):
        return f"{value:.0f}"
    return _number(value)


def machine_name(record: dict) -> str:
    """e.g. ``AMD EPYC 7B13, 2 cores, no GPU``: every table's heading names its machine."""
    box = record["machine"]
    return f"{box['cpu']}, {box['cores']} cores, " + (
        f"GPU {box['gpu']}" if box["gpu"] else "no GPU"
    )


def _heading(record: dict, title: str) -> str:
    return f"### {title}, on {machine_name(record)}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(str(cell) for cell in line) + " |" for line in lines)


def _seconds(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def _listed(values: list) -> str:
    return ", ".join(str(v) for v in values)


def _params(params: dict) -> str:
    return f"`{json.dumps(params, separators=(', ', ': '))}`" if params else "none"


def _whole(value: float) -> str:
    return f"{value:.0f}"


# --- benchmarks/full_training.py (make bench, make bench-scaling) ---------------------------

STAGES = ("data_processing", "pretraining", "cluster_init", "joint_training", "evaluation")
QUALITY = ("clusters_used", "silhouette", "planted_line_recall", "ari_affected")
RATIOS = ("total_s", "pretrain_epoch_s", "joint_epoch_s")


def full_training(record: dict) -> str:
    """Wall time per stage, epochs and steps, memory, and each run's quality, per data size."""
    results = record["results"]
    seeds = _listed(run["seed"] for run in results[0]["runs"])
    sizes = _listed(f"{result['n_mice']:,}" for result in results)
    times, steps, runs = [], [], []
    for result in results:
        m, mice = result["median"], f"{result['n_mice']:,}"
        stage_seconds = (_seconds(m[f"{stage}_s"]) for stage in ("total", *STAGES))
        times.append(
            [mice, *stage_seconds, _whole(m["peak_rss_mib"]), _whole(m["training_threads"])]
        )
        steps += [
            [mice, stage, _whole(m[f"{stage}_epochs"]), _whole(m[f"{stage}_steps_per_epoch"])]
            + [f"{m[f'{stage}_epoch_s']:.2f}", f"{m[f'{stage}_step_ms']:.2f}"]
            for stage in ("pretrain", "joint")
        ]
        runs += [
            [mice, run["seed"], _seconds(run["total_s"]), _whole(run["joint_epochs"])]
            + [_cell(run[key]) for key in QUALITY]
            for run in result["runs"]
        ]
    text = [
        _heading(
            record, f"`full_training` on {sizes} mice, seeds {seeds}, device {record['device']}"
        ),
        "",
        "Medians over the seeds: seconds of wall time (the StageTimingHook's `timing/*`), "
        "the run's peak resident memory and its training threads.",
        "",
        _table(["mice", "total s", *(f"{s} s" for s in STAGES), "peak MiB", "threads"], times),
        "",
        _table(["mice", "stage", "epochs", "steps / epoch", "s / epoch", "ms / step"], steps),
        "",
        "Each run (the stop rules end the joint stage at an epoch that moves with the seed):",
        "",
        _table(["mice", "seed", "total s", "joint epochs", *QUALITY], runs),
    ]
    growth = []
    for small, large in zip(results, results[1:], strict=False):
        ratios = (large["median"][k] / small["median"][k] for k in RATIOS)
        growth.append([f"{small['n_mice']:,} -> {large['n_mice']:,}"])
        growth[-1] += [f"{large['n_mice'] / small['n_mice']:.1f}x", *(f"{r:.2f}x" for r in ratios)]
    if growth:
        header = ["mice", "data", "total time", "pretraining epoch", "joint epoch"]
        text += ["", "How time grows with the data:", "", _table(header, growth)]
    return "\n".join(text)


# --- benchmarks/stability.py (make bench-stability) -----------------------------------------

TARGETS = {
    "wall_time_s": "wall time of the stability run, s (bound: 1.2 x seeds x T / workers)",
    "median_pairwise_ari": "members' median pairwise ARI, all mice",
    "median_pairwise_ari_affected": "members' median pairwise ARI, affected mice",
    "stable_null_line_false_positive_rate": "lines enriched in >= 80% of members: null FPR",
    "worker_peak_rss_mib": "peak memory per worker, MiB",
    "consensus_ari_affected": "consensus vs median member: ARI affected",
    "consensus_line_recall": "consensus vs median member: planted-line recall",
    "consensus_line_false_positive_rate_any_cluster": "consensus vs median member: null FPR, "
    "any cluster",
    "consensus_nmi_centre": "consensus vs median member: NMI centre",
}


MEMBER_COLUMNS = {
    "member": "member",
    "status": "status",
    "total_seconds": "s",
    "pretrain_epochs": "pretraining epochs",
    "joint_epochs": "joint epochs",
    "pretrain_val_loss": "pretraining val loss",
    "ari_affected": "ARI affected",
    "line_recall": "planted-line recall",
    "line_false_positive_rate_any_cluster": "null FPR any cluster",
    "nmi_centre": "NMI centre",
    "worker_peak_rss_mib": "worker peak MiB",
}
SCORES = ("ari_affected", "line_recall", "line_false_positive_rate_any_cluster", "nmi_centre")


def stability(record: dict) -> str:
    """The targets (issues 17 and 32), the timing against full_training, every member, and the
    seed-set shares when the run made them."""
    data = "the default data" if record["data_seed"] is None else f"data seed {record['data_seed']}"
    targets = [
        [
            TARGETS.get(name, name),
            _cell(check["value"]),
            _cell(check["bound"]),
            "met" if check["met"] else "**missed**",
        ]
        for name, check in record["targets"].items()
    ]
    one_worker = record["stability_one_worker_s"]
    timing = (
        f"One `full_training` per reference seed ({_listed(record['reference_seeds'])}): "
        f"{_listed(_seconds(s) for s in record['full_training_s'])} s, median T = "
        f"{_seconds(record['one_full_training_s'])} s; the stability run on "
        f"{record['workers']} workers: {_seconds(record['stability_s'])} s"
        + (
            f", on 1 worker: {_seconds(one_worker)} s ({one_worker / record['stability_s']:.2f}x)."
            if one_worker
            else "."
        )
        + f" Driver peak {record['driver_peak_rss_mib']:.0f} MiB."
    )
    members = [[_cell(member[key]) for key in MEMBER_COLUMNS] for member in record["members"]]
    seeds = _listed(record["seeds"])
    text = [
        _heading(record, f"`stability`, {record['n_mice']:,} mice ({data}), seeds {seeds}"),
        "",
        f"Extra parameters: {_params(record['params'])}.",
        "",
        _table(["target", "measured", "bound", ""], targets),
        "",
        timing,
        "",
        _table(list(MEMBER_COLUMNS.values()), members),
    ]
    shares = record.get("seed_set_shares")
    if shares:
        text += [
            "",
            f"The consensus of each set of {record['set_size']} seeds against its median "
            "member: the share of sets where it is at least as good, and the median margin "
            "(positive: the consensus is better):",
            "",
            _table(
                [
                    "sets",
                    "poorly trained left out",
                    *(MEMBER_COLUMNS[s] for s in SCORES),
                    "all four",
                ],
                [
                    [
                        f"{row['sets']} {row['kind']}",
                        "yes" if row["leave_out_poorly_trained"] else "no",
                        *(
                            f"{row[f'{s}_met']:.2f}, {row[f'{s}_margin_median']:+.5f}"
                            for s in SCORES
                        ),
                        f"{row['all_four_met']:.2f}",
                    ]
                    for row in shares
                ],
            ),
        ]
    return "\n".join(text)

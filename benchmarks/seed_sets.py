"""The consensus against its median member, over many sets of members from one run.

Whether five members' consensus beats their median member on a score that differs by a few
ten-thousandths is a draw of the five seeds. So train more members once, in a project with
the synthetic truth (the catalog's latest run is read):

    kedro run --pipeline stability --params "stability.seeds=1 2 3 4 5 6 7 8 9 10 11 12 13 14 15"
    .venv/bin/python benchmarks/seed_sets.py . --set-size 5 --random-sets 20
    .venv/bin/python benchmarks/seed_sets.py . \\
        --params '{"stability": {"merge_normal_hearing": false}}'

(``benchmarks/stability.py --set-size 5`` does the same inside its throw-away project, or in
the one it keeps with ``--keep``; the second line rebuilds the consensuses with another
consensus setting, without training again.) Each set, the consecutive ones and
``--random-sets`` drawn at random, gets the consensus that the pipeline's own nodes build
from its members, scored against that set's median member;
where a member of the set trained poorly, both with it left out (the default) and with
every member kept. Printed: per score, the share of sets where the consensus is at least as
good as the median member, and the median margin (positive: the consensus is better).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
from harness import merged, newest
from kedro.config import OmegaConfigLoader
from matplotlib import pyplot as plt

from audiometric_clustering.evaluation.ground_truth import align_truth
from audiometric_clustering.evaluation.scoring import ScoringSettings, score_clustering
from audiometric_clustering.evaluation.settings import EvaluationSettings
from audiometric_clustering.pipelines.stability import nodes
from audiometric_clustering.stability import tables
from audiometric_clustering.stability.genes import COLUMNS as GENE_CALL_COLUMNS
from audiometric_clustering.stability.members import MemberResult, MemberSpec

#: Scores on which the consensus must be at least as good as the median member (issue 17);
#: which way is better is ``tables.QUALITY_SCORES``'.
TARGET_SCORES = (
    "ari_affected",
    "line_recall",
    "line_false_positive_rate_any_cluster",
    "nmi_centre",
)
LEAVE_OUT = "leave_out_poorly_trained"
#: The sets are compared on their clusters and enriched lines; their gene calls (the same
#: test for every set, only the consensus phenotype they are given differs) are not.
NO_GENE_CALLS = pd.DataFrame(columns=list(GENE_CALL_COLUMNS)).astype({"called": bool})


def _member_sets(names: list[str], set_size: int, random_sets: int) -> list[tuple[str, list]]:
    """The consecutive sets of ``set_size`` members, then ``random_sets`` drawn (seed 0)."""
    if len(names) < set_size:
        raise ValueError(f"{len(names)} members trained: fewer than a set of {set_size}")
    sets = [("consecutive", names[i : i + set_size]) for i in range(0, len(names), set_size)]
    sets = [(kind, chosen) for kind, chosen in sets if len(chosen) == set_size]
    rng = np.random.default_rng(0)
    for _ in range(random_sets):
        drawn = set(rng.choice(names, set_size, replace=False).tolist())
        sets.append(("random", [name for name in names if name in drawn]))
    return sets


def consensus_over_sets(
    project: Path, set_size: int, random_sets: int = 0, params: dict | None = None
) -> pd.DataFrame:
    """One row per set and setting of ``leave_out_poorly_trained``: the members left out, the
    agreement, the consensus clusters dissolved (or merged), the stable lines' null-line FPR
    and, per target score, the consensus, the median member, whether the consensus is at
    least as good, and its margin. ``params`` are merged over the project's, as ``kedro run
    --params`` would be."""
    config = OmegaConfigLoader(str(project / "conf"), base_env="base", default_run_env="local")
    params = merged(config["parameters"], params or {})
    members_file = newest(project, "07_model_output/stability/members.csv")
    run = members_file.parents[2]  # the stability run's folder: its own model input
    mice = pd.read_parquet(run / "05_model_input/model_input.parquet")
    truth_file = pd.read_csv(project / "data/01_raw/impc_abr_synthetic_truth.csv")
    truth = align_truth(truth_file, mice)
    if truth is None:
        raise ValueError(f"{project}: no synthetic truth for the model input's lines")
    settings = ScoringSettings.from_evaluation(EvaluationSettings.from_params(params["evaluation"]))
    assignments = pd.read_parquet(run / "07_model_output/stability/member_assignments.parquet")
    members = pd.read_csv(members_file)
    members = members[members["status"] == "ok"].sort_values([tables.K, "seed"])
    results = {}
    for row in members.itertuples():
        labels = assignments[row.member].to_numpy(np.int64)
        results[row.member] = MemberResult(
            spec=MemberSpec(int(row.seed), int(row.n_clusters)),
            labels=labels,
            checkpoint={},
            histories={},
            scoring=score_clustering(mice, labels, int(row.n_clusters), truth, settings),
            seconds={},
            worker={},
        )
    rows = []
    for kind, chosen in _member_sets(list(results), set_size, random_sets):
        in_set = [results[name] for name in chosen]
        table = members[members[tables.MEMBER].isin(chosen)]
        ari, k_selection, _ = nodes.compare_members(in_set, mice, truth_file)
        for leave_out in (True, False):
            stability = params["stability"] | {LEAVE_OUT: leave_out}
            _, clusters, scores, calls = nodes.build_consensus(
                in_set, k_selection, table, mice, truth_file, params["evaluation"], stability
            )
            lines, _ = nodes.rank_lines(
                in_set, k_selection, table, calls, clusters, mice, truth_file, stability
            )
            figures, _, summary, _ = nodes.report_stability(
                table, ari, k_selection, clusters, scores, lines, NO_GENE_CALLS, mice, truth_file,
                stability,
            )  # fmt: skip
            for figure in figures.values():
                plt.close(figure)
            row = {
                "kind": kind,
                "seeds": " ".join(str(results[name].spec.seed) for name in chosen),
                LEAVE_OUT: leave_out,
                "left_out": " ".join(summary["members_left_out"]),
                "agreement": summary["median_pairwise_ari_affected"],
                "clusters_dissolved": summary["consensus_clusters_dissolved"],
                "stable_null_line_false_positive_rate": summary[
                    "stable_null_line_false_positive_rate"
                ],
            }
            scores = scores.set_index("score")
            for score in TARGET_SCORES:
                consensus, median = scores.loc[score, ["consensus", "member_median"]]
                lower_is_better = tables.QUALITY_SCORES[score]
                row[f"{score}_consensus"] = float(consensus)
                row[f"{score}_member_median"] = float(median)
                row[f"{score}_met"] = bool(scores.loc[score, "consensus_at_least_median"])
                row[f"{score}_margin"] = float(
                    median - consensus if lower_is_better else consensus - median
                )
            rows.append(row)
            if leave_out and not row["left_out"]:  # keeping every member: the same consensus
                rows.append(row | {LEAVE_OUT: False})
                break
    return pd.DataFrame(rows)


def shares_met(sets: pd.DataFrame) -> pd.DataFrame:
    """Per kind of set and setting of ``leave_out_poorly_trained``: the sets, those with a
    member left out, the share of sets where the consensus is at least the median member on
    each score and on all four, and each score's median margin."""
    met = [f"{score}_met" for score in TARGET_SCORES]
    frame = sets.assign(all_four_met=sets[met].all(axis=1))
    groups = frame.groupby(["kind", LEAVE_OUT])
    table = groups[[*met, "all_four_met"]].mean()
    table.insert(0, "sets", groups.size())
    table.insert(1, "sets_with_left_out", groups["left_out"].apply(lambda s: s.ne("").sum()))
    margins = groups[[f"{score}_margin" for score in TARGET_SCORES]].median()
    return table.join(margins.add_suffix("_median")).reset_index()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("project", type=Path, help="a project whose stability run to read")
    parser.add_argument("--set-size", type=int, default=5)
    parser.add_argument("--random-sets", type=int, default=20)
    parser.add_argument(
        "--params",
        type=json.loads,
        default={},
        help="over the project's parameters (JSON), e.g. '{\"stability\": "
        '{"merge_normal_hearing": false}}\'',
    )
    parser.add_argument("--output", type=Path, help="every set's row as CSV")
    args = parser.parse_args()
    sets = consensus_over_sets(args.project, args.set_size, args.random_sets, args.params)
    if args.output:
        sets.to_csv(args.output, index=False)
    with pd.option_context("display.width", 250, "display.max_columns", None):
        print(sets.round(5).to_string())
        print(shares_met(sets).round(5).T.to_string())


if __name__ == "__main__":
    main()

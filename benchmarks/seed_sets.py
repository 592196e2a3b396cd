"""The consensus against its median member, over several sets of members from one run.

Whether five members' consensus beats their median member on a score that differs by a few
ten-thousandths is a draw of the five seeds. To measure it, ``benchmarks/stability.py
--set-size 5`` trains, say, 15 members once; this rebuilds the consensus of each set of
``set_size`` consecutive seeds from that run's outputs, with the pipeline's own node
functions (members left out as the parameters say), and scores it against that set's
median member.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from kedro.config import OmegaConfigLoader
from matplotlib import pyplot as plt

from audiometric_clustering.evaluation.ground_truth import align_truth
from audiometric_clustering.pipelines.stability import nodes
from audiometric_clustering.stability import tables
from audiometric_clustering.stability.members import MemberResult, MemberSpec
from audiometric_clustering.stability.scores import ScoringSettings, score_clustering

#: Scores on which the consensus must be at least as good as the median member (issue 17).
TARGET_SCORES = (
    "ari_affected",
    "line_recall",
    "line_false_positive_rate_any_cluster",
    "nmi_centre",
)


def _run_files(project: Path) -> dict[str, Path]:
    names = {
        "model_input": "05_model_input/model_input.parquet",
        "assignments": "07_model_output/stability/member_assignments.parquet",
        "members": "08_reporting/stability/members.csv",
    }
    return {key: _newest(project, name) for key, name in names.items()}


def _newest(project: Path, name: str) -> Path:
    found = sorted(project.glob(f"data/runs/*/{name}"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise FileNotFoundError(f"no data/runs/*/{name} in {project}")
    return found[-1]


def consensus_over_sets(project: Path, set_size: int) -> pd.DataFrame:
    """One row per set of ``set_size`` consecutive seeds (of the members that trained): the
    members left out, and per target score the consensus, the median member and whether the
    consensus is at least as good."""
    params = OmegaConfigLoader(str(project / "conf"), base_env="base", default_run_env="local")
    params = params["parameters"]
    files = _run_files(project)
    mice = pd.read_parquet(files["model_input"])
    truth_file = pd.read_csv(project / "data/01_raw/impc_abr_synthetic_truth.csv")
    truth = align_truth(truth_file, mice)
    settings = ScoringSettings.from_params(params["evaluation"])
    assignments = pd.read_parquet(files["assignments"])
    members = pd.read_csv(files["members"])
    members = members[members["status"] == "ok"].sort_values("seed")
    results = {
        row.member: MemberResult(
            spec=MemberSpec(int(row.seed), int(row.n_clusters)),
            labels=(labels := assignments[row.member].to_numpy(np.int64)),
            checkpoint={},
            histories={},
            scoring=score_clustering(mice, labels, int(row.n_clusters), truth, settings),
            seconds={},
            worker={},
        )
        for row in members.itertuples()
    }
    rows = []
    names = members[tables.MEMBER].tolist()
    for start in range(0, len(names) - set_size + 1, set_size):
        chosen = names[start : start + set_size]
        in_set = [results[name] for name in chosen]
        table = members[members[tables.MEMBER].isin(chosen)]
        ari, k_selection, _ = nodes.compare_members(in_set, mice, truth_file)
        _, clusters, scores, calls = nodes.build_consensus(
            in_set, k_selection, table, mice, truth_file, params["evaluation"], params["stability"]
        )
        lines, _ = nodes.rank_lines(
            in_set, k_selection, table, calls, clusters, mice, truth_file, params["stability"]
        )
        figures, _, summary, _ = nodes.report_stability(
            table, ari, k_selection, clusters, scores, lines, mice, truth_file, params["stability"]
        )
        for figure in figures.values():
            plt.close(figure)
        row = {
            "seeds": " ".join(str(results[name].spec.seed) for name in chosen),
            "agreement": summary["median_pairwise_ari_affected"],
            "left_out": " ".join(summary["members_left_out"]),
        }
        scores = scores.set_index("score")
        for score in TARGET_SCORES:
            row[f"{score}_consensus"] = float(scores.loc[score, "consensus"])
            row[f"{score}_member_median"] = float(scores.loc[score, "member_median"])
            row[f"{score}_met"] = bool(scores.loc[score, "consensus_at_least_median"])
        row["stable_null_line_false_positive_rate"] = summary[
            "stable_null_line_false_positive_rate"
        ]
        rows.append(row)
    return pd.DataFrame(rows)

"""A synthetic IMPC ABR export in the real wide format, with known planted phenotypes.

Built from facts of the real data (centre sizes, control baselines and equipment per
centre, line sizes, click not measured at ICS and JAX, 5 dB steps, a 100 dB "no response"
cap) so that the whole pipeline can be run, and its clusters scored, without the real
59,000-mouse export. Fully vectorised; deterministic per seed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audiometric_clustering.impc.lines import build_line_id
from audiometric_clustering.impc.schema import (
    AGE,
    ALLELE,
    BACKGROUND,
    CENTRE,
    CONTROL_GROUP,
    EQUIPMENT_MANUFACTURER,
    EQUIPMENT_MODEL,
    FREQUENCIES,
    GENE,
    LINE_ID,
    PIPELINE,
    SAMPLE_GROUP,
    SEX,
    SPECIMEN_ID,
    THRESHOLD_COLUMNS,
    WEIGHT,
    ZYGOSITY,
)

PLANTED_PATTERN = "planted_pattern"
AFFECTED = "affected"
NO_PATTERN = "none"
#: Threshold shift in dB per frequency (6, 12, 18, 24, 30 kHz, click) of an affected mouse.
PATTERNS: dict[str, tuple[float, ...]] = {
    "flat_mild": (20.0, 20.0, 20.0, 20.0, 20.0, 20.0),
    "flat_severe": (45.0, 45.0, 45.0, 45.0, 45.0, 45.0),
    "profound": (80.0, 80.0, 80.0, 80.0, 80.0, 80.0),
    "high_frequency": (0.0, 5.0, 20.0, 40.0, 50.0, 20.0),
    "low_frequency": (40.0, 30.0, 15.0, 5.0, 0.0, 20.0),
    "mid_frequency": (5.0, 25.0, 40.0, 25.0, 5.0, 15.0),
}
#: Uneven, as in reality: high-frequency loss is the commonest hearing phenotype.
DEFAULT_PATTERN_WEIGHTS: dict[str, float] = {
    "high_frequency": 0.35,
    "profound": 0.2,
    "flat_mild": 0.15,
    "flat_severe": 0.1,
    "low_frequency": 0.1,
    "mid_frequency": 0.1,
}
STEP_DB = 5.0
NO_RESPONSE_DB = 100.0
LOWEST_DB = -10.0
AGE_WEEKS = (12, 13, 14, 15, 16)
AGE_SHARES = (0.05, 0.15, 0.5, 0.2, 0.1)
MUTANT_ZYGOSITIES = ("homozygote", "heterozygote", "hemizygote")
MUTANT_ZYGOSITY_SHARES = (0.7, 0.27, 0.03)
#: Some real controls are labelled "homozygote": only biological_sample_group is reliable.
CONTROL_ZYGOSITIES = ("wildtype", "homozygote")
CONTROL_ZYGOSITY_SHARES = (0.7, 0.3)
GENE_REUSE_SHARE = 0.15  # lines testing a gene that another line (zygosity, centre) also tests
WEIGHT_MISSING_SHARE = 0.06
OTHER_MISSING_SHARE = 0.003  # sporadic missing 6-24 kHz thresholds

TDT = "TDT (Tucker Davis Technologies)"
IHS = "Intelligent Hearing Systems"
RP21 = "RP2.1 based system, RA4PA Medusa Preamplifier"
RZ6 = (
    "RZ6-A-P1 bioacoustic system, RA4PA pre-amp / Digitizer, RA4LI headstage, "
    "MF1-S multi field speaker"
)
RZ6_CCP = (
    "RZ6 Processor, RA4LI headstage, RA4PA pre-amp, RAAL 140-15d ribbon speaker, "
    "DENON PMA-520AE power amplifier"
)
RZ6_KMPC = (
    "RZ6, Z-series 2-DSP bioacoustic system, Medusa PreAmp/Digitizer, Medusa LI headstage, "
    "Multi field speaker/Stereo"
)


@dataclass(frozen=True)
class Setup:
    """One measurement setting of a centre; lines and controls are spread over them."""

    background: str
    manufacturer: str
    model: str
    share: float = 1.0
    offset_db: float = 0.0  # baseline shift of this setting relative to the centre


@dataclass(frozen=True)
class CentreProfile:
    """Facts of one phenotyping centre, from the real sample and the full IMPC export."""

    name: str
    lab_code: str
    export_mice: int  # mice in the full IMPC export: the centre's share of the data
    pipeline: str
    setups: tuple[Setup, ...]
    baseline_db: tuple[float, ...]  # control median per frequency (real sample)
    noise_db: float  # control spread (standard deviation, dB)
    mice_per_sex: tuple[int, ...]  # per-sex line sizes to draw from
    mice_per_sex_shares: tuple[float, ...]
    click_missing: float = 0.0
    khz30_missing: float = 0.01


#: Mice per sex in a line: most centres 2 + 2, JAX and HMGU 4 + 4, CCP-IMG 7-8 per sex.
TWO_PER_SEX = {"mice_per_sex": (1, 2, 3), "mice_per_sex_shares": (0.1, 0.8, 0.1)}
FOUR_PER_SEX = {"mice_per_sex": (3, 4, 5), "mice_per_sex_shares": (0.15, 0.7, 0.15)}
EIGHT_PER_SEX = {"mice_per_sex": (7, 8), "mice_per_sex_shares": (0.5, 0.5)}

CENTRES: tuple[CentreProfile, ...] = (
    CentreProfile(
        name="JAX",
        lab_code="J",
        export_mice=17866,
        pipeline="JAX Pipeline",
        setups=(Setup("involves: C57BL/6NJ", IHS, "Smart EP"),),
        baseline_db=(50.0, 45.0, 35.0, 42.5, 65.0, np.nan),
        noise_db=6.0,
        click_missing=1.0,
        **FOUR_PER_SEX,
    ),
    CentreProfile(
        name="CCP-IMG",
        lab_code="Ccpcz",
        export_mice=9339,
        pipeline="CCP Pipeline",
        setups=(Setup("involves: C57BL/6NCrl", TDT, RZ6_CCP),),
        baseline_db=(30.0, 30.0, 30.0, 35.0, 45.0, 30.0),
        noise_db=8.0,
        khz30_missing=0.15,
        **EIGHT_PER_SEX,
    ),
    CentreProfile(
        name="HMGU",
        lab_code="Hmgu",
        export_mice=7043,
        pipeline="German Mouse Clinic",
        setups=(
            Setup("involves: C57BL/6NCrl", TDT, RP21, share=0.6),
            Setup("involves: C57BL/6NTac", TDT, RP21, share=0.4, offset_db=5.0),
        ),
        baseline_db=(40.0, 25.0, 30.0, 40.0, 55.0, 35.0),
        noise_db=7.0,
        click_missing=0.03,
        khz30_missing=0.07,
        **FOUR_PER_SEX,
    ),
    CentreProfile(
        name="UC Davis",
        lab_code="Mbp",
        export_mice=6674,
        pipeline="UCD Pipeline",
        setups=(Setup("involves: C57BL/6NCrl", TDT, RZ6),),
        baseline_db=(40.0, 25.0, 25.0, 35.0, 50.0, 15.0),
        noise_db=6.0,
        **TWO_PER_SEX,
    ),
    CentreProfile(
        name="WTSI",
        lab_code="Wtsi",
        export_mice=4943,
        pipeline="MGP Select Pipeline",
        setups=(
            Setup("involves: C57BL/6N", TDT, RP21, share=0.97),
            Setup("involves: B6Brd;B6Dnk;B6N-Tyr<c-Brd>", TDT, RP21, share=0.03),
        ),
        baseline_db=(30.0, 20.0, 20.0, 30.0, 40.0, 25.0),
        noise_db=4.0,
        **TWO_PER_SEX,
    ),
    CentreProfile(
        name="ICS",
        lab_code="Ics",
        export_mice=3851,
        pipeline="ICS",
        setups=(Setup("involves: C57BL/6N", TDT, "III"),),
        baseline_db=(40.0, 15.0, 17.5, 25.0, 40.0, np.nan),
        noise_db=9.0,
        click_missing=1.0,
        **TWO_PER_SEX,
    ),
    CentreProfile(
        name="MRC Harwell",
        lab_code="H",
        export_mice=3782,
        pipeline="Harwell",
        setups=(
            Setup("involves: C57BL/6NTac", IHS, "Smart EP", share=0.8),
            Setup("involves: C57BL/6NTac", TDT, RP21, share=0.2, offset_db=-10.0),
        ),
        baseline_db=(50.0, 30.0, 40.0, 35.0, 45.0, 35.0),
        noise_db=9.0,
        **TWO_PER_SEX,
    ),
    CentreProfile(
        name="TCP",
        lab_code="Tcp",
        export_mice=3087,
        pipeline="TCP Pipeline",
        setups=(Setup("involves: C57BL/6NCrl", TDT, RZ6),),
        baseline_db=(32.5, 20.0, 25.0, 35.0, 47.5, 20.0),
        noise_db=5.0,
        **TWO_PER_SEX,
    ),
    CentreProfile(
        name="MARC",
        lab_code="Marc",
        export_mice=1146,
        pipeline="IMPC Pipeline",
        setups=(Setup("involves: C57BL/6N", TDT, RZ6),),
        baseline_db=(50.0, 42.5, 45.0, 47.5, 55.0, 25.0),
        noise_db=7.0,
        **TWO_PER_SEX,
    ),
    CentreProfile(
        name="KMPC",
        lab_code="Kmpc",
        export_mice=863,
        pipeline="IMPC Pipeline",
        setups=(Setup("involves: C57BL/6NTac", TDT, RZ6_KMPC),),
        baseline_db=(30.0, 25.0, 25.0, 30.0, 45.0, 25.0),
        noise_db=7.0,
        click_missing=0.3,
        khz30_missing=0.15,
        **TWO_PER_SEX,
    ),
    CentreProfile(
        name="RBRC",
        lab_code="Rbrc",
        export_mice=551,
        pipeline="IMPC Pipeline",
        setups=(Setup("involves: C57BL/6NJcl", TDT, RP21),),
        baseline_db=(0.0, 5.0, 10.0, 20.0, 40.0, 15.0),
        noise_db=9.0,
        **TWO_PER_SEX,
    ),
)


def allocate(total: int, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` into integer parts proportional to ``weights`` (largest remainder)."""
    exact = total * weights / weights.sum()
    parts = np.floor(exact).astype(np.int64)
    parts[np.argsort(parts - exact, kind="stable")[: total - parts.sum()]] += 1
    return parts


def _draw_lines(
    rng: np.random.Generator, centre: int, profile: CentreProfile, mutants: int
) -> pd.DataFrame:
    """Knockout lines of one centre filling at most ``mutants`` mice (3 to 16 mice each)."""
    n_draw = mutants // 3 + 1
    males = rng.choice(profile.mice_per_sex, size=n_draw, p=profile.mice_per_sex_shares)
    females = rng.choice(profile.mice_per_sex, size=n_draw, p=profile.mice_per_sex_shares)
    females = np.maximum(females, 3 - males)
    sizes = np.minimum(males + females, 16)
    n_lines = int(np.searchsorted(np.cumsum(sizes), mutants, side="right"))
    return pd.DataFrame({"centre": centre, "size": sizes[:n_lines], "males": males[:n_lines]})


#: Every centre's setups in one flat list; a mouse's setup is an index into it.
SETUPS: tuple[Setup, ...] = tuple(s for p in CENTRES for s in p.setups)
SETUP_CENTRE = np.repeat(np.arange(len(CENTRES)), [len(p.setups) for p in CENTRES])


def _setups(rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    """Index into :data:`SETUPS` within each mouse's centre, drawn by share."""
    setup = np.zeros(len(centres), dtype=np.int64)
    for c in range(len(CENTRES)):
        rows = np.flatnonzero(centres == c)
        options = np.flatnonzero(SETUP_CENTRE == c)
        shares = np.array([SETUPS[i].share for i in options])
        setup[rows] = rng.choice(options, size=len(rows), p=shares / shares.sum())
    return setup


def _plant(
    rng: np.random.Generator,
    n_lines: int,
    affected_line_share: float,
    pattern_weights: Mapping[str, float],
    penetrance_range: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray]:
    """A pattern per line (most "none") and each planted line's penetrance."""
    names = list(pattern_weights)
    weights = np.array([pattern_weights[n] for n in names], dtype="float64")
    pattern = np.full(n_lines, NO_PATTERN, dtype=object)
    planted = rng.choice(n_lines, size=round(affected_line_share * n_lines), replace=False)
    pattern[planted] = rng.choice(names, size=len(planted), p=weights / weights.sum())
    penetrance = rng.uniform(*penetrance_range, size=n_lines)
    return pattern, penetrance


def _thresholds(
    rng: np.random.Generator,
    centre: np.ndarray,
    setup: np.ndarray,
    pattern: np.ndarray,
    affected: np.ndarray,
) -> np.ndarray:
    """Centre baseline + setup offset + mouse and measurement noise + planted shift, in 5 dB
    steps capped at 100 dB (no response); click and 30 kHz missing as at the real centres."""
    n = len(centre)
    baseline = np.array([p.baseline_db for p in CENTRES])[centre]
    offset = np.array([s.offset_db for s in SETUPS])[setup]
    noise_db = np.array([p.noise_db for p in CENTRES])[centre][:, None]
    values = baseline + offset[:, None]
    values = values + noise_db * (
        0.5 * rng.standard_normal((n, 1)) + 0.85 * rng.standard_normal((n, 6))
    )
    shift_table = np.array([(0.0,) * 6, *PATTERNS.values()])
    shifts = shift_table[pd.Index([NO_PATTERN, *PATTERNS]).get_indexer(pattern)]
    severity = rng.uniform(0.8, 1.2, size=(n, 1))
    values = values + np.where(affected[:, None], shifts * severity, 0.0)
    values = np.clip(np.round(values / STEP_DB) * STEP_DB, LOWEST_DB, NO_RESPONSE_DB) + 0.0  # no -0
    khz30_missing = np.array([p.khz30_missing for p in CENTRES])
    click_missing = np.array([p.click_missing for p in CENTRES])
    missing_share = np.full((n, 6), OTHER_MISSING_SHARE)
    missing_share[:, FREQUENCIES.index("30kHz")] = khz30_missing[centre]
    missing_share[:, FREQUENCIES.index("click")] = click_missing[centre]
    return np.where(rng.random((n, 6)) < missing_share, np.nan, values)


def generate_synthetic_export(
    n_mice: int,
    seed: int,
    *,
    control_share: float = 0.25,
    affected_line_share: float = 0.05,
    pattern_weights: Mapping[str, float] = DEFAULT_PATTERN_WEIGHTS,
    penetrance_range: tuple[float, float] = (0.6, 1.0),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n_mice`` synthetic mice as (wide export, ground truth).

    The export has the real column names; the truth has one row per mouse: specimen_id,
    line_id (as in the model-input table), planted_pattern ("none" for unaffected lines and
    controls) and affected (whether this mouse expresses its line's pattern: penetrance is
    partial). Mice left over after whole lines are filled become controls, so the total is
    exact and controls are ``control_share`` or slightly more.
    """
    unknown = set(pattern_weights) - set(PATTERNS)
    if unknown:
        raise ValueError(f"unknown planted patterns {sorted(unknown)}; known: {sorted(PATTERNS)}")
    rng = np.random.default_rng(seed)
    per_centre = allocate(n_mice, np.array([p.export_mice for p in CENTRES], dtype="float64"))
    lines = pd.concat(
        [
            _draw_lines(rng, c, profile, n - round(control_share * n))
            for c, (profile, n) in enumerate(zip(CENTRES, per_centre, strict=True))
        ],
        ignore_index=True,
    )
    n_lines = len(lines)
    line_centre = lines["centre"].to_numpy()
    line_setup = _setups(rng, line_centre)
    line_pattern, penetrance = _plant(
        rng, n_lines, affected_line_share, pattern_weights, penetrance_range
    )
    gene_index = np.arange(n_lines)
    reuse = rng.random(n_lines) < GENE_REUSE_SHARE
    gene_index[reuse] = rng.integers(0, max(n_lines, 1), size=int(reuse.sum()))
    genes = np.char.add("Syn", np.char.zfill(gene_index.astype(str), 5))
    labs = np.array([p.lab_code for p in CENTRES])[line_centre]
    alleles = np.char.add(
        np.char.add(np.char.add(genes, "<em"), (np.arange(n_lines) + 1).astype(str)),
        np.char.add(np.char.add("(IMPC)", labs), ">"),
    )
    zygosity = rng.choice(MUTANT_ZYGOSITIES, size=n_lines, p=MUTANT_ZYGOSITY_SHARES)

    sizes = lines["size"].to_numpy()
    line = np.repeat(np.arange(n_lines), sizes)
    position = np.arange(len(line)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    mutant_male = position < np.repeat(lines["males"].to_numpy(), sizes)
    mutant_affected = (line_pattern[line] != NO_PATTERN) & (
        (rng.random(len(line)) < penetrance[line]) | (position == 0)
    )
    control_centre = np.repeat(
        np.arange(len(CENTRES)),
        per_centre - np.bincount(line_centre, sizes, len(CENTRES)).astype(np.int64),
    )
    n_controls = len(control_centre)

    centre = np.concatenate([line_centre[line], control_centre])
    setup = np.concatenate([line_setup[line], _setups(rng, control_centre)])
    is_mutant = np.arange(n_mice) < len(line)
    pattern = np.concatenate([line_pattern[line], np.full(n_controls, NO_PATTERN, dtype=object)])
    affected = np.concatenate([mutant_affected, np.zeros(n_controls, dtype=bool)])
    male = np.concatenate([mutant_male, rng.random(n_controls) < 0.5])
    thresholds = _thresholds(rng, centre, setup, pattern, affected)
    weight = np.round(
        np.where(male, rng.normal(28.5, 3.0, n_mice), rng.normal(23.5, 2.5, n_mice)).clip(13, 45), 2
    )
    weight[rng.random(n_mice) < WEIGHT_MISSING_SHARE] = np.nan

    def per_setup(field: str) -> np.ndarray:
        return np.array([getattr(s, field) for s in SETUPS], dtype=object)[setup]

    def mutants_only(values: np.ndarray) -> np.ndarray:
        return np.concatenate([values[line], np.full(n_controls, np.nan, dtype=object)])

    export = pd.DataFrame(
        {
            SAMPLE_GROUP: np.where(is_mutant, "experimental", CONTROL_GROUP),
            GENE: mutants_only(genes.astype(object)),
            ALLELE: mutants_only(alleles.astype(object)),
            ZYGOSITY: np.concatenate(
                [
                    zygosity[line],
                    rng.choice(CONTROL_ZYGOSITIES, size=n_controls, p=CONTROL_ZYGOSITY_SHARES),
                ]
            ),
            SEX: np.where(male, "male", "female"),
            AGE: rng.choice(AGE_WEEKS, size=n_mice, p=AGE_SHARES),
            WEIGHT: weight,
            BACKGROUND: per_setup("background"),
            CENTRE: np.array([p.name for p in CENTRES])[centre],
            PIPELINE: np.array([p.pipeline for p in CENTRES])[centre],
            EQUIPMENT_MANUFACTURER: per_setup("manufacturer"),
            EQUIPMENT_MODEL: per_setup("model"),
            **{THRESHOLD_COLUMNS[f]: thresholds[:, i] for i, f in enumerate(FREQUENCIES)},
            PLANTED_PATTERN: pattern,
            AFFECTED: affected,
        }
    )
    export = export.iloc[rng.permutation(n_mice)].reset_index(drop=True)
    export.insert(0, SPECIMEN_ID, "SYN" + pd.Series(np.arange(n_mice)).astype("str").str.zfill(7))
    truth = pd.DataFrame(
        {
            SPECIMEN_ID: export[SPECIMEN_ID],
            LINE_ID: build_line_id(export),
            PLANTED_PATTERN: export[PLANTED_PATTERN].astype("str"),
            AFFECTED: export[AFFECTED].astype(bool),
        }
    )
    return export.drop(columns=[PLANTED_PATTERN, AFFECTED]), truth

"""What the synthetic export knows about each IMPC phenotyping centre.

Facts of the real data, not tunable settings: centre sizes (full IMPC export), control
means and spreads per frequency, the "no response" ceiling, missing-value rates, value grids
and line sizes (IMPC sample of 1,000 mice, data release 22.1). Thresholds are ordered as
:data:`~audiometric_clustering.impc.schema.FREQUENCIES`: 6, 12, 18, 24, 30 kHz, click.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: A cell missing now and then at any centre (a threshold not read off the trace).
SPORADIC_MISSING = 0.003
#: Correlation of a control's deviations across frequencies within one cohort. With the
#: cohort offsets and sporadic loss on top, the residual correlation of controls is about
#: that of the real sample (neighbouring tones ~0.5, distant ones ~0.1-0.2, click with the
#: low tones ~0.4).
CONTROL_CORRELATION = np.array(
    [
        [1.00, 0.32, 0.40, 0.10, 0.00, 0.27],
        [0.32, 1.00, 0.45, 0.06, 0.00, 0.26],
        [0.40, 0.45, 1.00, 0.36, 0.05, 0.18],
        [0.10, 0.06, 0.36, 1.00, 0.34, 0.00],
        [0.00, 0.00, 0.05, 0.34, 1.00, 0.00],
        [0.27, 0.26, 0.18, 0.00, 0.00, 1.00],
    ]
)

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
    """Facts of one phenotyping centre."""

    name: str
    lab_code: str
    export_mice: int  # mice in the full IMPC export: the centre's share of the data
    pipeline: str
    setups: tuple[Setup, ...]
    mean_db: tuple[float, ...]  # control mean per frequency, before setup offsets
    sd_db: tuple[float, ...]  # control spread per frequency within one cohort
    ceiling_db: float  # "no response" is recorded at the highest level tested
    missing: tuple[float, ...]  # share of mice without each threshold
    first_day: str  # first and last experiment dates seen at the centre
    last_day: str
    mice_per_sex: tuple[int, ...]  # per-sex line sizes to draw from
    mice_per_sex_shares: tuple[float, ...]
    grid_offset_db: tuple[float, ...] = (0.0,) * 6  # calibration constant of the 5 dB grid
    continuous_share: float = 0.0  # share of (the earliest) cohorts recorded to 0.1 dB


def _missing(khz24: float = 0.0, khz30: float = 0.0, click: float = 0.0) -> tuple[float, ...]:
    """Per-frequency missing shares: those given, :data:`SPORADIC_MISSING` elsewhere."""
    return tuple(max(share, SPORADIC_MISSING) for share in (0.0, 0.0, 0.0, khz24, khz30, click))


#: Mice per sex in a line: most centres 2 + 2, JAX and HMGU 4 + 4, CCP-IMG 7-8 per sex.
TWO_PER_SEX = {"mice_per_sex": (1, 2, 3), "mice_per_sex_shares": (0.1, 0.85, 0.05)}
FOUR_PER_SEX = {"mice_per_sex": (3, 4, 5), "mice_per_sex_shares": (0.15, 0.7, 0.15)}
EIGHT_PER_SEX = {"mice_per_sex": (7, 8), "mice_per_sex_shares": (0.5, 0.5)}

CENTRES: tuple[CentreProfile, ...] = (
    CentreProfile(
        name="JAX",
        lab_code="J",
        export_mice=17866,
        pipeline="JAX Pipeline",
        setups=(Setup("involves: C57BL/6NJ", IHS, "Smart EP"),),
        # Click is never measured at JAX and ICS; its mean there, used only when missing
        # values are off, is assumed: about the lowest tone mean, as at the other centres.
        mean_db=(49.5, 45.5, 35.0, 42.5, 62.0, 35.0),
        sd_db=(4.5, 6.5, 6.5, 5.5, 6.5, 5.0),
        ceiling_db=100.0,
        missing=_missing(click=1.0),
        first_day="2013-05-16",
        last_day="2023-12-05",
        **FOUR_PER_SEX,
    ),
    CentreProfile(
        name="CCP-IMG",
        lab_code="Ccpcz",
        export_mice=9339,
        pipeline="CCP Pipeline",
        setups=(Setup("involves: C57BL/6NCrl", TDT, RZ6_CCP),),
        mean_db=(33.0, 28.0, 31.0, 38.0, 50.0, 33.0),
        sd_db=(5.5, 5.5, 7.0, 9.0, 9.0, 4.5),
        ceiling_db=90.0,
        missing=_missing(khz24=0.02, khz30=0.14),
        first_day="2016-11-07",
        last_day="2024-05-16",
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
        mean_db=(40.0, 25.0, 28.0, 39.0, 53.0, 33.0),
        sd_db=(7.0, 5.0, 6.0, 6.0, 8.5, 4.0),
        ceiling_db=90.0,
        missing=_missing(khz24=0.02, khz30=0.07, click=0.03),
        first_day="2013-05-16",
        last_day="2024-01-11",
        **FOUR_PER_SEX,
    ),
    CentreProfile(
        name="UC Davis",
        lab_code="Mbp",
        export_mice=6674,
        pipeline="UCD Pipeline",
        setups=(Setup("involves: C57BL/6NCrl", TDT, RZ6),),
        mean_db=(41.0, 24.0, 26.0, 35.0, 49.0, 13.0),
        sd_db=(6.5, 5.5, 5.5, 4.5, 5.0, 4.5),
        ceiling_db=100.0,
        missing=_missing(),
        first_day="2013-07-22",
        last_day="2024-01-31",
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
        mean_db=(32.0, 18.0, 21.0, 28.0, 39.0, 25.0),
        sd_db=(4.5, 4.5, 4.5, 4.5, 6.5, 4.5),
        ceiling_db=95.0,
        missing=_missing(),
        first_day="2012-02-21",
        last_day="2016-07-14",
        **TWO_PER_SEX,
    ),
    CentreProfile(
        name="ICS",
        lab_code="Ics",
        export_mice=3851,
        pipeline="ICS",
        setups=(Setup("involves: C57BL/6N", TDT, "III"),),
        mean_db=(38.0, 16.0, 18.0, 27.0, 43.0, 17.0),  # click: as for JAX
        sd_db=(6.5, 7.0, 6.0, 9.0, 9.0, 5.0),
        ceiling_db=100.0,
        missing=_missing(click=1.0),
        first_day="2013-07-01",
        last_day="2019-07-11",
        continuous_share=0.07,  # the first cohorts (2013-2014) were read to 0.1 dB
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
        mean_db=(48.0, 33.0, 38.0, 38.0, 47.0, 37.0),
        sd_db=(8.5, 7.5, 8.0, 7.5, 8.5, 5.0),
        ceiling_db=100.0,
        missing=_missing(),
        first_day="2013-01-02",
        last_day="2022-01-24",
        **TWO_PER_SEX,
    ),
    CentreProfile(
        name="TCP",
        lab_code="Tcp",
        export_mice=3087,
        pipeline="TCP Pipeline",
        setups=(Setup("involves: C57BL/6NCrl", TDT, RZ6),),
        mean_db=(33.0, 20.0, 24.0, 35.0, 47.0, 20.0),
        sd_db=(4.5, 4.5, 4.5, 5.0, 6.0, 4.5),
        ceiling_db=100.0,
        missing=_missing(),
        first_day="2013-05-16",
        last_day="2024-03-13",
        **TWO_PER_SEX,
    ),
    CentreProfile(
        name="MARC",
        lab_code="Marc",
        export_mice=1146,
        pipeline="IMPC Pipeline",
        setups=(Setup("involves: C57BL/6N", TDT, RZ6),),
        mean_db=(50.0, 43.0, 45.0, 49.0, 57.0, 27.0),
        sd_db=(6.0, 5.0, 8.0, 8.0, 7.0, 6.0),
        ceiling_db=95.0,
        missing=_missing(),
        first_day="2013-07-17",
        last_day="2016-10-11",
        **TWO_PER_SEX,
    ),
    CentreProfile(
        name="KMPC",
        lab_code="Kmpc",
        export_mice=863,
        pipeline="IMPC Pipeline",
        setups=(Setup("involves: C57BL/6NTac", TDT, RZ6_KMPC),),
        mean_db=(30.0, 26.0, 27.0, 33.0, 48.0, 25.0),
        sd_db=(6.0, 4.0, 4.0, 6.0, 9.0, 5.5),
        ceiling_db=100.0,
        missing=_missing(khz30=0.10, click=0.3),
        first_day="2016-09-09",
        last_day="2022-08-23",
        **TWO_PER_SEX,
    ),
    CentreProfile(
        name="RBRC",
        lab_code="Rbrc",
        export_mice=551,
        pipeline="IMPC Pipeline",
        setups=(Setup("involves: C57BL/6NJcl", TDT, RP21),),
        mean_db=(1.0, 4.0, 11.0, 24.0, 39.0, 14.0),
        sd_db=(6.0, 8.0, 7.0, 9.0, 9.0, 4.0),
        ceiling_db=100.0,
        missing=_missing(),
        first_day="2014-02-27",
        last_day="2016-12-12",
        grid_offset_db=(-0.7, -2.3, 0.5, 0.5, 0.9, -2.1),  # values like -0.7, 2.7, 10.5
        **TWO_PER_SEX,
    ),
)

CENTRE_NAMES = np.array([p.name for p in CENTRES])
#: Every centre's setups in one flat list; a mouse's setup is an index into it.
SETUPS: tuple[Setup, ...] = tuple(s for p in CENTRES for s in p.setups)
SETUP_CENTRE = np.repeat(np.arange(len(CENTRES)), [len(p.setups) for p in CENTRES])


def centre_table(field: str) -> np.ndarray:
    """One profile field for every centre, stacked (row i is centre i)."""
    return np.array([getattr(p, field) for p in CENTRES], dtype="float64")

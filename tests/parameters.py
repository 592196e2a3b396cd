"""The project's own parameter files, so tests start from the defaults users get (the YAML
is their only source) and state just what they change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from audiometric_clustering.evaluation.characterisation import LabelRules
from audiometric_clustering.impc.synthetic import SyntheticSettings

CONF = Path(__file__).resolve().parents[1] / "conf" / "base"


def parameters(entry: str) -> dict[str, Any]:
    """``params:<entry>`` as conf/base defines it (e.g. "pretraining", "model")."""
    for path in sorted(CONF.glob("parameters*.yml")):
        values = yaml.safe_load(path.read_text()) or {}
        if entry in values:
            return values[entry]
    raise KeyError(f"no parameters entry {entry!r} in {CONF}")


def synthetic_settings() -> SyntheticSettings:
    """The synthetic generator's default settings (``params:synthetic``)."""
    return SyntheticSettings.from_params(parameters("synthetic"))


def label_rules() -> LabelRules:
    """The evaluation's cluster-label rules (``params:evaluation.labels``)."""
    return LabelRules.from_params(parameters("evaluation")["labels"])


def with_changes(entry: str, **changes: Any) -> dict[str, Any]:
    """``parameters(entry)`` with ``changes``; dict values (e.g. loss_weights) merge key by key."""
    values = parameters(entry)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(values.get(key), dict):
            values[key] = {**values[key], **value}
        else:
            values[key] = value
    return values

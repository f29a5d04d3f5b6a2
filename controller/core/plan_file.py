"""Plan files: read, and written whole (never half-written).

A plan file a person must fix is a `PlanFileError` saying which file and what is wrong; each
surface says it its own way (the command line: one line and exit 2).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from controller.planning.models import (
    PlanFile,
)
from firmware_bridge.validation import describe


class PlanFileError(ValueError):
    """A plan file a person must fix: which file, what is wrong."""


def load_plan(path: Path) -> PlanFile:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise PlanFileError(f"{path}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise PlanFileError(f"{path}: not a plan file (not UTF-8 text); create one with "
                          "halfstep plan init") from None
    try:
        return PlanFile.model_validate_json(text)
    except ValidationError as e:
        raise PlanFileError(f"{path}: {describe(e)}") from None


def save_plan(plan: PlanFile, path: Path) -> None:
    if not path.parent.is_dir():
        raise PlanFileError(f"{path}: the folder {path.parent} does not exist")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(plan.model_dump_json(indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)  # never a half-written plan

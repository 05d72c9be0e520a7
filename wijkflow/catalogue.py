"""The shipped catalogue of common indicators (indicator_catalogue.yaml in the package)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .definitions import KEY, _parse_yaml
from .errors import DefinitionError, NotFound

CATALOGUE_FILE = Path(__file__).resolve().parent / "indicator_catalogue.yaml"


class CatalogueIndicator(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key: Annotated[str, Field(pattern=KEY)]
    label: Annotated[str, Field(min_length=1)]
    unit: str = ""
    direction: Literal["higher", "lower"] = "higher"
    description: str = ""
    source: str = ""


@cache
def catalogue() -> dict[str, CatalogueIndicator]:
    data, _ = _parse_yaml(CATALOGUE_FILE.read_text(encoding="utf-8"), str(CATALOGUE_FILE))  # as definitions are read
    try:
        return {key: CatalogueIndicator(key=key, **value) for key, value in data.items()}
    except (ValidationError, TypeError) as exc:  # pragma: no cover - the shipped file is tested
        raise DefinitionError(file=str(CATALOGUE_FILE), problem=str(exc)) from None


def from_catalogue(key: str) -> CatalogueIndicator:
    try:
        return catalogue()[key]
    except KeyError:
        raise NotFound(f"The indicator catalogue has no '{key}' (see `wijkflow indicator catalogue`; "
                       f"known: {', '.join(sorted(catalogue()))}).") from None

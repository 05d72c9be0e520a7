"""The JSON Schema (draft 2020-12) of every `--format json` output, one file per command.

`wijkflow list --format json` validates against `list.json`, `audit query` against
`audit-query.json` (each `--format jsonl` line against its `items`), and so on: a command's words
joined by `-`. The schemas ship in the package so scripts can check what they read;
tests/test_json_schemas.py runs every such command and validates its output.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).resolve().parent


def schema_file(command: str) -> Path:
    return SCHEMA_DIR / (command.replace(" ", "-") + ".json")


def schema_for(command: str) -> dict[str, Any]:
    """The schema of `wijkflow COMMAND --format json` (e.g. "audit query")."""
    data: dict[str, Any] = json.loads(schema_file(command).read_text(encoding="utf-8"))
    return data

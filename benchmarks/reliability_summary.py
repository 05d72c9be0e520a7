"""The reliability suite's figures, as README's "Reliability" section quotes them.

    WIJKFLOW_RELIABILITY_SUMMARY=/tmp/rel.jsonl python -m pytest tests/reliability [--postgres URL]
    python benchmarks/reliability_summary.py /tmp/rel.jsonl

Each scenario appends one JSON line (tests/reliability/scenarios.py, `record`); this sums them per
engine and prints one line per figure.
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict


def main(path: str) -> None:
    totals: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    scales = set()
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            scales.add(row.pop("scale"))
            key = (row.pop("engine"), row.pop("scenario"))
            totals[key].update({k: v for k, v in row.items() if isinstance(v, int | float)})
    print(f"scale {', '.join(map(str, sorted(scales)))}")
    for (engine, scenario), figures in sorted(totals.items()):
        print(f"{engine:10} {scenario:12} " + ", ".join(f"{k} {v:g}" for k, v in figures.items()))


if __name__ == "__main__":
    main(sys.argv[1])

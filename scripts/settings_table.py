#!/usr/bin/env python3
"""Print the README's settings table from the one declaration of every setting (config.SETTINGS).

tests/unit/test_readme.py checks that the README holds exactly this table.
"""

from __future__ import annotations

import json

from assist_server.config import SETTINGS


def table() -> str:
    rows = ["| Setting | Default | Description |", "| --- | --- | --- |"]
    for spec in SETTINGS:
        default = json.dumps(spec.default)
        description = spec.description.replace("|", "\\|")
        rows.append(f"| `assist.{spec.key}` | `{default}` | {description} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(table())

"""The results table."""

from __future__ import annotations

import json
from typing import Any


def render(results: dict[str, Any]) -> str:
    return json.dumps(results, indent=1, default=str)[:20000]

"""The web client's generated API types match the server's OpenAPI document."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

# src imports (module paths may move with the code under test)
from chatapi.main import create_app
from helpers import ROOT, make_settings

WEB = ROOT / "web"
CLI = WEB / "node_modules" / "openapi-typescript" / "bin" / "cli.js"


def test_generated_client_is_up_to_date(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None or not CLI.is_file():
        pytest.fail("node and web/node_modules are needed: run `make web-deps` (make test does)")
    spec = create_app(make_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path}/x.db")).openapi()
    spec_file = tmp_path / "openapi.json"
    spec_file.write_text(json.dumps(spec, indent=2, sort_keys=True))
    out = tmp_path / "schema.gen.ts"
    subprocess.run(
        [node, str(CLI), str(spec_file), "--output", str(out)],
        cwd=WEB,
        check=True,
        capture_output=True,
        timeout=120,
    )
    committed = (WEB / "src" / "api" / "schema.gen.ts").read_text()
    assert out.read_text() == committed, (
        "web/src/api/schema.gen.ts is out of date with the server: run `make gen-api`"
    )

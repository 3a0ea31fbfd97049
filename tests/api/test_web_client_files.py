"""How the built web client's files are served for an installable app that opens offline:
the service worker and the manifest come from the site's root with the right type, a
policy that lets the worker fetch the app's own files (and nothing else), and caching
that never pins an old index.html or service worker; hashed assets stay immutable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

INDEX = "<!doctype html><title>chat</title>"
SW = "self.addEventListener('fetch', () => {});"
MANIFEST = '{"name": "chatapi", "start_url": "/"}'


@pytest.fixture
def settings_overrides(tmp_path: Path) -> dict[str, Any]:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(INDEX)
    (dist / "sw.js").write_text(SW)
    (dist / "manifest.webmanifest").write_text(MANIFEST)
    (dist / "theme.js").write_text("void 0")
    (dist / "assets" / "index-abc123.js").write_text("console.log(1)")
    return {"web_dist_dir": dist}


def directives(r: httpx.Response) -> dict[str, str]:
    csp = r.headers["content-security-policy"]
    return {d.split()[0]: " ".join(d.split()[1:]) for d in csp.split(";") if d.strip()}


async def test_service_worker_is_served_from_the_root_as_script_never_cached(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/sw.js")
    assert r.status_code == 200 and r.text == SW
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.headers["cache-control"] == "no-cache"
    d = directives(r)
    # It may fetch the app's own files (the offline shell) and run nothing from elsewhere.
    assert d["default-src"] == "'none'"
    assert d["connect-src"] == "'self'"
    assert d["script-src"] == "'self'"
    assert "unsafe" not in r.headers["content-security-policy"]


async def test_pages_may_register_a_same_origin_worker_and_load_the_manifest(
    client: httpx.AsyncClient,
) -> None:
    d = directives(await client.get("/c/some-conversation"))
    assert d["worker-src"] == "'self'"
    assert d["manifest-src"] == "'self'"


async def test_manifest_is_served_with_its_media_type(client: httpx.AsyncClient) -> None:
    r = await client.get("/manifest.webmanifest")
    assert r.status_code == 200 and r.json()["name"] == "chatapi"
    assert r.headers["content-type"].startswith("application/manifest+json")
    assert r.headers["cache-control"] == "no-cache"
    # Not a page and not the worker: the locked-down policy.
    assert directives(r)["default-src"] == "'none'"


@pytest.mark.parametrize("path", ["/", "/index.html", "/c/abc", "/theme.js"])
async def test_unhashed_files_are_revalidated_on_every_load(
    client: httpx.AsyncClient, path: str
) -> None:
    r = await client.get(path)
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-cache"


async def test_hashed_assets_stay_immutable(client: httpx.AsyncClient) -> None:
    r = await client.get("/assets/index-abc123.js")
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"


async def test_the_worker_policy_is_only_for_the_worker_script(client: httpx.AsyncClient) -> None:
    """A script elsewhere gets the locked-down policy, and /sw.js missing is the app's page."""
    assert directives(await client.get("/theme.js"))["default-src"] == "'none'"
    r = await client.get("/api/v1/sw.js")
    assert r.status_code == 404
    assert directives(r)["default-src"] == "'none'"

"""Security headers: a strict Content-Security-Policy for the web client (no inline code),
a locked-down one for everything else, no framing, no sniffing, same-origin referrers
on every response; token answers are never cached."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers import PASSWORD, ROOT, Signup

INDEX = "<!doctype html><title>chat</title>"


@pytest.fixture
def settings_overrides(tmp_path: Path) -> dict[str, Any]:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(INDEX)
    (dist / "assets" / "app.js").write_text("console.log(1)")
    return {"web_dist_dir": dist}


def assert_base_headers(r: httpx.Response) -> None:
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "same-origin"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


def directives(r: httpx.Response) -> dict[str, str]:
    csp = r.headers["content-security-policy"]
    return {d.split()[0]: " ".join(d.split()[1:]) for d in csp.split(";") if d.strip()}


@pytest.mark.parametrize("path", ["/", "/login", "/c/some-conversation"])
async def test_web_client_pages_carry_a_strict_csp(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    assert r.status_code == 200 and r.text == INDEX
    assert_base_headers(r)
    d = directives(r)
    assert d["default-src"] == "'self'"
    assert d["script-src"] == "'self'"  # no inline scripts, no eval
    assert d["style-src"] == "'self'"
    assert d["img-src"] == "'self' blob: data:"
    assert d["connect-src"] == "'self' ws://testserver wss://testserver"
    assert d["object-src"] == "'none'"
    assert d["base-uri"] == "'none'"
    assert d["form-action"] == "'self'"
    assert "unsafe" not in r.headers["content-security-policy"]


async def test_a_forged_host_does_not_widen_the_csp(client: httpx.AsyncClient) -> None:
    r = await client.get("/", headers={"Host": "evil.example; script-src *"})
    assert directives(r)["connect-src"] == "'self'"
    assert directives(r)["script-src"] == "'self'"


async def test_api_answers_and_errors_carry_the_headers(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice = await signup()
    for r in (
        await client.get("/api/v1/users/me", headers=alice.headers),
        await client.get("/api/v1/users/me"),  # 401
        await client.get("/api/v1/conversations/not-a-uuid", headers=alice.headers),  # 422
        await client.get("/api/v1/nothing-here"),  # 404
        await client.get("/healthz"),
        await client.get("/assets/app.js"),
    ):
        assert_base_headers(r)
        assert directives(r)["default-src"] == "'none'", r.url


async def test_media_downloads_keep_their_own_stricter_csp(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice = await signup()
    r = await client.post(
        "/api/v1/media",
        files={"file": ("a.txt", b"just text\n", "text/plain")},
        headers=alice.headers,
    )
    assert r.status_code == 201, r.text
    r = await client.get(r.json()["url"])
    assert r.status_code == 200
    assert r.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers.get_list("x-content-type-options") == ["nosniff"]


async def test_api_docs_are_not_framable(client: httpx.AsyncClient) -> None:
    r = await client.get("/docs")
    assert r.status_code == 200
    assert_base_headers(r)


async def test_token_answers_are_never_cached(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/v1/auth/register", json={"username": "nocache", "password": PASSWORD}
    )
    assert r.status_code == 201
    assert r.headers["cache-control"] == "no-store"
    r = await client.post("/api/v1/auth/token", data={"username": "nocache", "password": PASSWORD})
    assert r.status_code == 200
    assert (r.headers["cache-control"], r.headers["pragma"]) == ("no-store", "no-cache")
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": r.json()["refresh_token"]})
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"


def test_the_web_client_has_no_inline_scripts_or_styles() -> None:
    """The CSP allows none: index.html loads every script from a file."""
    html = (ROOT / "web" / "index.html").read_text()
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.S)
    assert scripts, "index.html loads its scripts"
    for attributes, body in scripts:
        assert "src=" in attributes and not body.strip(), f"inline script: {body[:80]!r}"
    assert "<style" not in html and "style=" not in html

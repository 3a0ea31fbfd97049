"""No input ends in a 500: numbers past every database integer, NUL characters, lone
surrogates, odd Range and Content-Length headers, odd paths — each is a clear JSON
error (the same on SQLite and PostgreSQL), and an unexpected failure is a JSON 500
without a trace."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chatapi.schemas import MAX_SEQ
from helpers import Account, Signup

API = "/api/v1"
HUGE = [MAX_SEQ + 1, 2**53, 2**63, 2**64, 10**30]
NUL = "a\x00b"
LONE_SURROGATE = "\\ud800"  # as JSON text: json.loads accepts it, UTF-8 cannot hold it
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00\x00\x00\x08free" + bytes(2000)


@pytest.fixture
def settings_overrides(tmp_path: Path) -> dict[str, Any]:
    """A built web client to serve (its paths are inputs too)."""
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>chat</title>")
    (dist / "assets" / "app.js").write_text("console.log(1)")
    return {"web_dist_dir": dist}


def assert_validation_error(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 422, r.text
    body: dict[str, Any] = r.json()
    assert body["code"] == "validation_error"
    assert body["detail"]
    return body


async def group(client: httpx.AsyncClient, owner: Account, title: str = "g") -> str:
    r = await client.post(
        f"{API}/conversations", headers=owner.headers, json={"kind": "group", "title": title}
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def raw_json(
    client: httpx.AsyncClient, method: str, url: str, text: str, account: Account | None = None
) -> httpx.Response:
    headers = {"Content-Type": "application/json", **(account.headers if account else {})}
    return await client.request(method, url, content=text.encode(), headers=headers)


# --- integers past every database integer ---------------------------------------------


@pytest.mark.parametrize("value", HUGE)
async def test_huge_seq_in_queries_is_422(
    client: httpx.AsyncClient, signup: Signup, value: int
) -> None:
    alice = await signup()
    conv = await group(client, alice)
    for path, name in (("messages", "before_seq"), ("events", "after_seq")):
        r = await client.get(
            f"{API}/conversations/{conv}/{path}", params={name: value}, headers=alice.headers
        )
        assert_validation_error(r)
    # The largest seq a client may name (the same bound as over the WebSocket) is fine.
    for path, name in (("messages", "before_seq"), ("events", "after_seq")):
        r = await client.get(
            f"{API}/conversations/{conv}/{path}", params={name: MAX_SEQ}, headers=alice.headers
        )
        assert r.status_code == 200, r.text


@pytest.mark.parametrize("value", HUGE)
async def test_huge_seq_in_read_and_delivered_is_422(
    client: httpx.AsyncClient, signup: Signup, value: int
) -> None:
    alice = await signup()
    conv = await group(client, alice)
    for marker in ("read", "delivered"):
        r = await client.post(
            f"{API}/conversations/{conv}/{marker}", json={"seq": value}, headers=alice.headers
        )
        assert_validation_error(r)
        r = await client.post(
            f"{API}/conversations/{conv}/{marker}", json={"seq": MAX_SEQ}, headers=alice.headers
        )
        assert r.status_code == 204, r.text


# --- NUL characters and lone surrogates --------------------------------------------------


async def _text_field_requests(
    client: httpx.AsyncClient, signup: Signup, bad: str
) -> list[httpx.Response]:
    """Every text field a client writes, each holding `bad` (JSON text of a string)."""
    alice = await signup()
    conv = await group(client, alice)
    r = await client.post(
        f"{API}/conversations/{conv}/messages", headers=alice.headers, json={"body": "ok"}
    )
    message_id = r.json()["id"]
    s = f'"x{bad}y"'
    return [
        await raw_json(client, "POST", f"{API}/conversations/{conv}/messages", f'{{"body": {s}}}',
                       alice),
        await raw_json(client, "POST", f"{API}/conversations/{conv}/messages",
                       f'{{"body": "hi", "client_id": {s}}}', alice),
        await raw_json(client, "PATCH", f"{API}/messages/{message_id}", f'{{"body": {s}}}', alice),
        await raw_json(client, "PATCH", f"{API}/users/me", f'{{"display_name": {s}}}', alice),
        await raw_json(client, "POST", f"{API}/conversations",
                       f'{{"kind": "group", "title": {s}}}', alice),
        await raw_json(client, "PATCH", f"{API}/conversations/{conv}", f'{{"title": {s}}}', alice),
        await raw_json(client, "POST", f"{API}/auth/register",
                       f'{{"username": {s}, "password": "long enough"}}'),
        await raw_json(client, "POST", f"{API}/auth/register",
                       f'{{"username": "someone", "password": "long {bad} enough"}}'),
        await raw_json(client, "POST", f"{API}/auth/register",
                       f'{{"username": "someone2", "password": "long enough", '
                       f'"display_name": {s}}}'),
        await raw_json(client, "POST", f"{API}/auth/refresh", f'{{"refresh_token": {s}}}'),
    ]  # fmt: skip


@pytest.mark.parametrize("bad", ["\\u0000", LONE_SURROGATE], ids=["nul", "lone-surrogate"])
async def test_nul_and_lone_surrogates_in_text_fields_are_422(
    client: httpx.AsyncClient, signup: Signup, bad: str
) -> None:
    for r in await _text_field_requests(client, signup, bad):
        body = assert_validation_error(r)
        # The answer is JSON that any parser reads (the input is escaped, not raw).
        assert r.content.isascii()
        assert json.loads(r.content) == body
    # Nothing of it was stored.
    alice = await signup()
    r = await client.get(f"{API}/users", params={"q": "someone"}, headers=alice.headers)
    assert r.json() == []


async def test_nul_in_user_search_and_login_is_422(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice = await signup()
    r = await client.get(f"{API}/users", params={"q": NUL}, headers=alice.headers)
    assert_validation_error(r)
    for form in ({"username": NUL, "password": "whatever1"}, {"username": "x", "password": NUL}):
        assert_validation_error(await client.post(f"{API}/auth/token", data=form))
    # An ordinary search still works.
    r = await client.get(f"{API}/users", params={"q": alice.username[:4]}, headers=alice.headers)
    assert r.status_code == 200 and r.json()


# --- headers -----------------------------------------------------------------------------


async def _uploaded_mp4(client: httpx.AsyncClient, signup: Signup) -> str:
    alice = await signup()
    r = await client.post(
        f"{API}/media", files={"file": ("clip.mp4", MP4, "video/mp4")}, headers=alice.headers
    )
    assert r.status_code == 201, r.text
    return str(r.json()["url"])


@pytest.mark.parametrize(
    ("header", "status", "content"),
    [
        ("bytes=" + "9" * 5000 + "-", 416, None),  # starts past the end
        ("bytes=0-" + "9" * 5000, 206, MP4),  # ends past the end: to the end
        ("bytes=-" + "9" * 5000, 206, MP4),  # a suffix longer than the file: all of it
        ("bytes=" + "0" * 5000 + "4-11", 206, MP4[4:12]),  # leading zeros are a number
        ("bytes=²-", 200, MP4),  # not ASCII digits: malformed, the whole file
        ("bytes=0-²", 200, MP4),
        ("bytes=-²", 200, MP4),
        ("bytes=¹²-³", 200, MP4),
    ],
)
async def test_odd_range_headers_are_never_a_500(
    client: httpx.AsyncClient, signup: Signup, header: str, status: int, content: bytes | None
) -> None:
    url = await _uploaded_mp4(client, signup)
    # Starlette reads header bytes as latin-1: b"\xb2" is "²", for which isdigit() is True.
    r = await client.get(url, headers={"Range": header.encode("latin-1")})
    assert r.status_code == status, r.text
    if content is not None:
        assert r.content == content
    else:
        assert r.json()["code"] == "range_not_satisfiable"


async def test_odd_content_length_of_an_upload_is_never_a_500(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice = await signup()
    boundary = "b0undary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n'
            f"Content-Type: video/mp4\r\n\r\n"
        ).encode()
        + MP4
        + f"\r\n--{boundary}--\r\n".encode()
    )
    for declared in ("²", "9" * 5000):
        r = await client.post(
            f"{API}/media",
            content=body,
            headers={
                **alice.headers,
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": declared.encode("latin-1"),
            },
        )
        # "²" is no number: the body decides; 5000 nines are more than any limit.
        expected = (201, None) if declared == "²" else (413, "payload_too_large")
        assert (r.status_code, r.json().get("code")) == expected, r.text


@pytest.mark.parametrize("path", ["/%00", "/a%00b/index.html", "/" + "a" * 5000, "/assets/%00.js"])
async def test_odd_web_client_paths_are_never_a_500(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    # Not a file of the client: its index.html (client-side routes), like any unknown path.
    assert r.status_code == 200, r.text
    assert r.text == "<!doctype html><title>chat</title>"
    assert (await client.get("/assets/app.js")).text == "console.log(1)"


# --- the 500 itself ----------------------------------------------------------------------


async def test_an_unexpected_error_is_a_json_500_without_a_trace(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    async def explode() -> None:
        raise RuntimeError("secret internals: /etc/passwd line 42")

    app.add_api_route("/boom", explode, methods=["POST"])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        with caplog.at_level(logging.ERROR, logger="chatapi"):
            r = await c.post("/boom")
    assert r.status_code == 500
    assert r.json() == {
        "detail": "The server failed to handle this request; try again later.",
        "code": "internal_error",
    }
    assert "secret internals" not in r.text and "Traceback" not in r.text
    assert r.headers["x-content-type-options"] == "nosniff"
    # The trace is in the log, for the operator.
    assert any(
        rec.exc_info and "secret internals" in str(rec.exc_info[1]) for rec in caplog.records
    )


@pytest.mark.parametrize(
    "before",
    [
        "2020-01-01T00:00:00",  # no offset: which time is that?
        "0001-01-01T00:00:00+14:00",  # before year 1 in UTC
        "9999-12-31T23:59:59-14:00",  # after year 9999 in UTC
    ],
)
async def test_odd_conversation_cursors_are_422(
    client: httpx.AsyncClient, signup: Signup, before: str
) -> None:
    alice = await signup()
    await group(client, alice)
    r = await client.get(f"{API}/conversations", params={"before": before}, headers=alice.headers)
    assert_validation_error(r)
    r = await client.get(
        f"{API}/conversations",
        params={"before": "2999-01-01T00:00:00+01:00"},
        headers=alice.headers,
    )
    assert r.status_code == 200 and len(r.json()) == 1

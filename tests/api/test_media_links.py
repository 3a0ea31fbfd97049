"""Signed media links are each for one viewer, and stop working the moment that viewer
may no longer see the file (removed from the conversation), while other members' links
keep working. Live frames carry links signed for each recipient."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image

from helpers import PASSWORD, Account, Signup, fresh_database_url
from servers import Api, Client, Server, User, server_env

CONV = "/api/v1/conversations"


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), "blue").save(buf, "PNG")
    return buf.getvalue()


def _viewer(url: str) -> str:
    return parse_qs(urlsplit(url).query)["v"][0]


async def _post_with_file(
    http: httpx.AsyncClient, sender: Account | User, conv: str
) -> dict[str, Any]:
    r = await http.post(
        "/api/v1/media", headers=sender.headers, files={"file": ("p.png", _png(), "image/png")}
    )
    assert r.status_code == 201, r.text
    r = await http.post(
        f"{CONV}/{conv}/messages",
        headers=sender.headers,
        json={"body": "look", "attachment_ids": [r.json()["id"]]},
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _media_of(http: httpx.AsyncClient, who: Account, conv: str) -> dict[str, Any]:
    r = await http.get(f"{CONV}/{conv}/messages", headers=who.headers)
    assert r.status_code == 200, r.text
    return dict(r.json()[-1]["attachments"][0])


async def test_a_former_members_links_reach_only_what_was_sent_before_they_left(
    app: FastAPI, client: httpx.AsyncClient, signup: Signup
) -> None:
    alice, bob, carol = await signup(), await signup(), await signup()
    r = await client.post(
        CONV,
        headers=alice.headers,
        json={"kind": "group", "title": "pics", "member_ids": [bob.id, carol.id]},
    )
    conv = r.json()["id"]
    sent = await _post_with_file(client, alice, conv)
    assert _viewer(sent["attachments"][0]["url"]) == uuid.UUID(alice.id).hex
    bobs, carols = await _media_of(client, bob, conv), await _media_of(client, carol, conv)
    assert _viewer(bobs["url"]) == uuid.UUID(bob.id).hex
    assert bobs["url"] != carols["url"]
    assert bobs == await _media_of(client, bob, conv)  # stable per viewer (caching)
    for link in (bobs["url"], bobs["thumbnail_url"], carols["url"], carols["thumbnail_url"]):
        assert (await client.get(link)).status_code == 200, link

    r = await client.delete(f"{CONV}/{conv}/members/{bob.id}", headers=alice.headers)
    assert r.status_code == 204
    # Removed, bob keeps the history up to his removal, the photo in it included...
    for link in (bobs["url"], bobs["thumbnail_url"]):
        assert (await client.get(link)).status_code == 200, link
    # ...but nothing sent after it: not through his history, not with carol's link.
    later = (await _post_with_file(client, alice, conv))["attachments"][0]
    assert [
        m["id"] for m in (await client.get(f"{CONV}/{conv}/messages", headers=bob.headers)).json()
    ] == [sent["id"]]
    carols_later = await _media_of(client, carol, conv)
    assert carols_later["id"] == later["id"]
    borrowed = carols_later["url"].replace(_viewer(carols_later["url"]), uuid.UUID(bob.id).hex)
    assert (await client.get(borrowed)).status_code == 404
    # The viewer is signed: bob cannot pass his link off as carol's, and a link for
    # nobody (the form frames are serialized in before the hub signs them) opens nothing.
    borrowed = bobs["url"].replace(_viewer(bobs["url"]), uuid.UUID(carol.id).hex)
    assert (await client.get(borrowed)).status_code == 404
    nobodys = app.state.chat.media_signer.url(uuid.UUID(bobs["id"]))
    assert (await client.get(nobodys)).status_code == 404
    # Once bob deletes the chat from his list, his links stop at once; carol's still work.
    assert (await client.delete(f"{CONV}/{conv}/former", headers=bob.headers)).status_code == 204
    for link in (bobs["url"], bobs["thumbnail_url"]):
        gone = await client.get(link)
        assert (gone.status_code, gone.json()["code"]) == (404, "media_not_found")
    for link in (carols["url"], carols["thumbnail_url"]):
        assert (await client.get(link)).status_code == 200


async def test_a_closed_accounts_links_stop_at_once(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice, bob = await signup(), await signup()
    r = await client.post(
        CONV, headers=alice.headers, json={"kind": "direct", "member_ids": [bob.id]}
    )
    conv = r.json()["id"]
    # They share no group: a message request, whose attachments bob sees once he accepts.
    assert (await client.post(f"{CONV}/{conv}/accept", headers=bob.headers)).status_code == 200
    mine = (await _post_with_file(client, alice, conv))["attachments"][0]
    bobs = await _media_of(client, bob, conv)
    for link in (mine["url"], bobs["url"]):
        assert (await client.get(link)).status_code == 200
    r = await client.request(
        "DELETE", "/api/v1/users/me", json={"password": PASSWORD}, headers=alice.headers
    )
    assert r.status_code == 204
    # Alice's links open nothing any more; her files are deleted with the account, so
    # bob's links to them stop too.
    assert (await client.get(mine["url"])).status_code == 404
    assert (await client.get(bobs["url"])).status_code == 404


# --- live frames, against a real server ---------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("media-links")
    url = fresh_database_url("sqlite", workdir, sqlite_template)
    env = server_env(workdir, url, redis_url=None, redis_prefix="x")
    srv = Server(workdir, env)
    srv.start()
    yield srv
    srv.stop()


@pytest.mark.slow
async def test_live_frames_carry_each_recipients_own_links(server: Server) -> None:
    api = Api(server.base_url)
    try:
        alice, bob, carol = await api.signup(), await api.signup(), await api.signup()
        conv = await api.group(alice, [bob, carol])
        sockets = {u.id: await Client.open(server.ws_url, u.token) for u in (bob, carol)}
        await _post_with_file(api.http, alice, conv)
        links: dict[str, dict[str, Any]] = {}
        for user_id, socket in sockets.items():
            new = await socket.expect("message.new")
            media = new["message"]["attachments"][0]
            assert _viewer(media["url"]) == _viewer(media["thumbnail_url"])
            assert _viewer(media["url"]) == uuid.UUID(user_id).hex
            links[user_id] = media
            assert (await api.http.get(media["url"])).status_code == 200
        r = await api.http.delete(f"{CONV}/{conv}/members/{bob.id}", headers=alice.headers)
        assert r.status_code == 204
        r = await api.http.delete(f"{CONV}/{conv}/former", headers=bob.headers)
        assert r.status_code == 204  # bob deletes the chat he was removed from
        assert (await api.http.get(links[bob.id]["url"])).status_code == 404
        assert (await api.http.get(links[carol.id]["url"])).status_code == 200
        # The ack of a send over the socket is signed for the sender.
        r = await api.http.post(
            "/api/v1/media", headers=carol.headers, files={"file": ("q.png", _png(), "image/png")}
        )
        assert r.status_code == 201, r.text
        await sockets[carol.id].send(
            {"type": "message.send", "conversation_id": conv, "client_id": "c", "body": "",
             "attachment_ids": [r.json()["id"]]}
        )  # fmt: skip
        ack = await sockets[carol.id].expect("message.ack")
        assert _viewer(ack["message"]["attachments"][0]["url"]) == uuid.UUID(carol.id).hex
        for socket in sockets.values():
            await socket.aclose()
    finally:
        await api.aclose()


def test_personalize_signs_exactly_the_viewers_links_and_nothing_else() -> None:
    from chatapi.media_urls import MediaSigner

    signer = MediaSigner(key="k" * 48, ttl_seconds=3600)
    media_id, viewer = uuid.uuid4(), uuid.uuid4()
    typed = signer.url(media_id)  # a link pasted into a body is escaped: left alone
    frame = (
        f'{{"url":"{signer.url(media_id)}","thumbnail_url":"{signer.url(media_id, "thumbnail")}",'
        f'"body":"see \\"url\\":\\"{typed}\\""}}'
    )
    mine = signer.for_viewer(viewer)
    assert signer.personalize(frame, viewer) == (
        f'{{"url":"{mine.url(media_id)}","thumbnail_url":"{mine.url(media_id, "thumbnail")}",'
        f'"body":"see \\"url\\":\\"{typed}\\""}}'
    )

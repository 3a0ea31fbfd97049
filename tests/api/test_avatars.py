"""Profile pictures: uploaded, cut square, turned upright, stored as two WebP sizes; shown
on every UserRead as signed links; refused uploads change nothing; replaced, removed and
closed-account pictures leave no file behind."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from helpers import PASSWORD, Account, Signup, group

AVATAR = "/api/v1/users/me/avatar"
LIMIT = 256 * 1024
ORIENTATION = 0x0112


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"avatar_max_bytes": LIMIT}


def png(size: tuple[int, int], colour: Any = "red", mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, colour).save(buf, "PNG")
    return buf.getvalue()


def stripes(width: int, height: int) -> bytes:
    """A PNG in three vertical thirds: red, green, blue."""
    image = Image.new("RGB", (width, height), "red")
    image.paste((0, 255, 0), (width // 3, 0, 2 * width // 3, height))
    image.paste((0, 0, 255), (2 * width // 3, 0, width, height))
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def sideways_photo() -> bytes:
    """A JPEG stored 120x80 with its left third red (the rest blue) and EXIF orientation
    6: displayed turned a quarter clockwise, 80x120 with the red at the top."""
    image = Image.new("RGB", (120, 80), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 40, 80))
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif[0x010F] = "PhoneMaker"
    buf = io.BytesIO()
    image.save(buf, "JPEG", exif=exif, quality=95)
    return buf.getvalue()


async def put_avatar(
    client: httpx.AsyncClient,
    who: Account,
    content: bytes,
    *,
    filename: str = "me.png",
    params: dict[str, int] | None = None,
) -> httpx.Response:
    return await client.put(
        AVATAR,
        headers=who.headers,
        files={"file": (filename, content, "application/octet-stream")},
        params=params or {},
    )


async def set_avatar(
    client: httpx.AsyncClient, who: Account, content: bytes, **kw: Any
) -> dict[str, Any]:
    r = await put_avatar(client, who, content, **kw)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def fetch_image(client: httpx.AsyncClient, url: str) -> Image.Image:
    r = await client.get(url)  # no header: the signed link alone
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/webp"
    image = Image.open(io.BytesIO(r.content))
    image.load()
    return image


def near(pixel: Any, colour: tuple[int, int, int], slack: int = 40) -> bool:
    return all(abs(int(a) - b) <= slack for a, b in zip(pixel[:3], colour, strict=True))


def stored_files(media_dir: Path) -> set[Path]:
    return {p for p in media_dir.rglob("*") if p.is_file() and p.parent.name != "tmp"}


async def me(client: httpx.AsyncClient, who: Account) -> dict[str, Any]:
    r = await client.get("/api/v1/users/me", headers=who.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_png_becomes_a_centred_256_square_and_a_64_thumbnail(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice = await signup()
    assert (await me(client, alice))["avatar_url"] is None
    user = await set_avatar(client, alice, stripes(300, 100))
    assert user["id"] == alice.id and user["avatar_url"] and user["avatar_thumb_url"]
    picture = await fetch_image(client, user["avatar_url"])
    thumb = await fetch_image(client, user["avatar_thumb_url"])
    assert picture.size == (256, 256) and thumb.size == (64, 64)
    # The middle third of a 300x100 image is its centred square: all green.
    for image in (picture, thumb):
        w, h = image.size
        for x, y in [(2, 2), (w // 2, h // 2), (w - 3, h - 3)]:
            assert near(image.convert("RGB").getpixel((x, y)), (0, 255, 0)), (x, y)
    assert (await me(client, alice))["avatar_url"] == user["avatar_url"]


async def test_jpeg_is_turned_upright_and_keeps_no_exif(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice = await signup()
    user = await set_avatar(client, alice, sideways_photo(), filename="photo.jpg")
    picture = (await fetch_image(client, user["avatar_url"])).convert("RGB")
    # Upright, the red third is at the top: the square's top rows are red, its bottom
    # and its left edge blue. (Not turned, its left edge would be red.)
    assert near(picture.getpixel((128, 10)), (255, 0, 0))
    assert near(picture.getpixel((128, 245)), (0, 0, 255))
    assert near(picture.getpixel((5, 200)), (0, 0, 255))
    r = await client.get(user["avatar_url"])
    assert b"PhoneMaker" not in r.content and b"Exif" not in r.content


async def test_crop_square_from_the_client_is_used(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice = await signup()
    user = await set_avatar(
        client, alice, stripes(300, 100), params={"x": 200, "y": 0, "size": 100}
    )
    picture = (await fetch_image(client, user["avatar_url"])).convert("RGB")
    assert near(picture.getpixel((128, 128)), (0, 0, 255))


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"x": 250, "y": 0, "size": 100}, "invalid_crop"),  # past the right edge
        ({"x": 0, "y": 10, "size": 100}, "invalid_crop"),  # past the bottom
        ({"x": 0, "y": 0}, "invalid_crop"),  # no size
        ({"x": -1, "y": 0, "size": 10}, "validation_error"),
        ({"x": 0, "y": 0, "size": 0}, "validation_error"),
    ],
)
async def test_a_crop_outside_the_image_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, signup: Signup, params: dict[str, int], code: str
) -> None:
    alice = await signup()
    before = await set_avatar(client, alice, png((50, 50)))
    r = await put_avatar(client, alice, stripes(300, 100), params=params)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == code
    assert (await me(client, alice))["avatar_url"] == before["avatar_url"]


@pytest.mark.parametrize(
    ("content", "filename", "status", "code"),
    [
        (b"just some words, not a picture\n", "me.png", 415, "unsupported_media_type"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>', "me.svg", 415,
         "unsupported_media_type"),
        (b"%PDF-1.4\n" + bytes(300), "me.pdf", 415, "unsupported_media_type"),
        # 100 megapixels in a few kilobytes: refused before decoding.
        (png((10_000, 10_000), 0, mode="1"), "bomb.png", 422, "image_too_large"),
        (b"\x89PNG\r\n\x1a\n" + bytes(200), "broken.png", 422, "invalid_image"),
        (bytes(LIMIT + 1), "huge.png", 413, "payload_too_large"),
        (b"", "empty.png", 422, "empty_file"),
    ],
)  # fmt: skip
async def test_refused_uploads_keep_the_old_picture(
    client: httpx.AsyncClient,
    signup: Signup,
    settings: Any,
    content: bytes,
    filename: str,
    status: int,
    code: str,
) -> None:
    alice = await signup()
    before = await set_avatar(client, alice, png((40, 40), "orange"))
    files_before = stored_files(settings.resolved_media_dir)
    r = await put_avatar(client, alice, content, filename=filename)
    assert r.status_code == status, r.text
    assert r.json()["code"] == code
    assert (await me(client, alice))["avatar_url"] == before["avatar_url"]
    assert (await fetch_image(client, before["avatar_url"])).size == (256, 256)
    assert stored_files(settings.resolved_media_dir) == files_before  # nothing left behind
    assert not list((settings.resolved_media_dir / "tmp").glob("*.part"))


async def test_gif_and_webp_are_accepted_the_first_frame_of_an_animation_used(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice = await signup()
    frames = [Image.new("RGB", (80, 80), c) for c in ((255, 0, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    user = await set_avatar(client, alice, buf.getvalue(), filename="a.gif")
    assert near((await fetch_image(client, user["avatar_url"])).convert("RGB").getpixel((9, 9)),
                (255, 0, 0))  # fmt: skip
    buf = io.BytesIO()
    Image.new("RGBA", (90, 60), (0, 0, 255, 255)).save(buf, "WEBP")
    user = await set_avatar(client, alice, buf.getvalue(), filename="a.webp")
    assert (await fetch_image(client, user["avatar_thumb_url"])).size == (64, 64)


async def test_replacing_deletes_the_old_files_and_kills_the_old_links(
    client: httpx.AsyncClient, signup: Signup, settings: Any
) -> None:
    alice = await signup()
    media_dir = settings.resolved_media_dir
    first = await set_avatar(client, alice, png((60, 60), "red"))
    first_files = stored_files(media_dir)
    assert len(first_files) == 2
    second = await set_avatar(client, alice, png((60, 60), "blue"))
    assert second["avatar_url"] != first["avatar_url"]
    now = stored_files(media_dir)
    assert len(now) == 2 and not (now & first_files)
    for url in (first["avatar_url"], first["avatar_thumb_url"]):
        r = await client.get(url)
        assert r.status_code == 404 and r.json()["code"] == "avatar_not_found"
    picture = (await fetch_image(client, second["avatar_url"])).convert("RGB")
    assert near(picture.getpixel((100, 100)), (0, 0, 255))


async def test_removing_the_picture_deletes_its_files(
    client: httpx.AsyncClient, signup: Signup, settings: Any
) -> None:
    alice = await signup()
    user = await set_avatar(client, alice, png((60, 60)))
    r = await client.delete(AVATAR, headers=alice.headers)
    assert r.status_code == 200, r.text
    assert r.json()["avatar_url"] is None and r.json()["avatar_thumb_url"] is None
    assert stored_files(settings.resolved_media_dir) == set()
    assert (await client.get(user["avatar_url"])).status_code == 404
    # Removing again changes nothing.
    r = await client.delete(AVATAR, headers=alice.headers)
    assert r.status_code == 200 and r.json()["avatar_url"] is None


async def test_closing_the_account_deletes_the_picture(
    client: httpx.AsyncClient, signup: Signup, settings: Any
) -> None:
    alice, bob = await signup(), await signup()
    await group(client, bob, alice)
    user = await set_avatar(client, alice, png((60, 60)))
    r = await client.request(
        "DELETE", "/api/v1/users/me", headers=alice.headers, json={"password": PASSWORD}
    )
    assert r.status_code == 204, r.text
    assert stored_files(settings.resolved_media_dir) == set()
    assert (await client.get(user["avatar_url"])).status_code == 404
    r = await client.get(f"/api/v1/users/{alice.id}", headers=bob.headers)
    assert r.status_code == 404


async def test_everyone_sees_the_picture_wherever_the_person_appears(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice, bob, stranger = await signup(), await signup(), await signup()
    r = await client.post(
        "/api/v1/conversations",
        headers=bob.headers,
        json={"kind": "direct", "member_ids": [alice.id]},
    )
    assert r.status_code == 201, r.text
    direct = r.json()["id"]
    team = await group(client, bob, alice)
    await set_avatar(client, alice, png((60, 60)))

    def check(read: dict[str, Any]) -> None:
        assert read["id"] == alice.id
        assert f"/api/v1/users/{alice.id}/avatar?" in read["avatar_url"]
        assert f"/api/v1/users/{alice.id}/avatar/thumbnail?" in read["avatar_thumb_url"]
        assert "email" not in read or read["email"] is None

    check((await client.get(f"/api/v1/users/{alice.id}", headers=bob.headers)).json())
    check((await client.get(f"/api/v1/users/{alice.id}", headers=stranger.headers)).json())
    found = await client.get("/api/v1/users", params={"q": alice.username}, headers=bob.headers)
    check(found.json()[0])
    conversations = (await client.get("/api/v1/conversations", headers=bob.headers)).json()
    check(next(c for c in conversations if c["id"] == direct)["other_user"])
    members = await client.get(f"/api/v1/conversations/{team['id']}/members", headers=bob.headers)
    check(next(m["user"] for m in members.json() if m["user"]["id"] == alice.id))


async def test_picture_links_need_a_signature_or_a_token(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice, bob = await signup(), await signup()
    user = await set_avatar(client, alice, png((60, 60)))
    url = httpx.URL(user["avatar_url"])
    path = f"/api/v1/users/{alice.id}/avatar"
    # No signature, no token.
    r = await client.get(path)
    assert r.status_code == 401 and r.json()["code"] == "not_authenticated"
    # A forged signature, another version, another user, the thumbnail's signature on the
    # full picture: all look like no picture.
    params = dict(url.params)
    forged = [
        {**params, "sig": "0" * 64},
        {**params, "version": str(int(params["version"]) + 1)},
        {**params, "exp": str(int(params["exp"]) + 1)},
    ]
    for query in forged:
        r = await client.get(path, params=query)
        assert r.status_code == 404 and r.json()["code"] == "avatar_not_found", query
    r = await client.get(f"/api/v1/users/{bob.id}/avatar", params=params)
    assert r.status_code == 404
    r = await client.get(f"{path}/thumbnail", params=params)
    assert r.status_code == 404
    # A signed-in user's token is enough (anyone may see anyone's picture).
    r = await client.get(path, headers=bob.headers)
    assert r.status_code == 200 and r.headers["content-type"] == "image/webp"
    r = await client.get(f"/api/v1/users/{bob.id}/avatar", headers=alice.headers)
    assert r.status_code == 404 and r.json()["code"] == "avatar_not_found"
    # The signed link: cacheable, never a page.
    r = await client.get(user["avatar_url"])
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "private" in r.headers["cache-control"] and "immutable" in r.headers["cache-control"]
    again = await client.get(user["avatar_url"], headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


async def test_multipart_and_auth_are_required(client: httpx.AsyncClient, signup: Signup) -> None:
    alice = await signup()
    r = await client.put(AVATAR, files={"file": ("a.png", png((9, 9)), "image/png")})
    assert r.status_code == 401
    r = await client.put(AVATAR, headers=alice.headers, content=png((9, 9)))
    assert r.status_code == 415 and r.json()["code"] == "multipart_required"
    r = await client.put(
        AVATAR, headers=alice.headers, files={"other": ("a.png", png((9, 9)), "image/png")}
    )
    assert r.status_code == 422 and r.json()["code"] == "file_missing"

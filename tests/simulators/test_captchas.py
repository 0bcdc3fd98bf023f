"""The portals' image captchas (issue 14): drawn per login page, one use each, switched by PUT /_admin/behaviour."""

from __future__ import annotations

import io
import random
import re

import pytest
from PIL import Image

from simulators.portal.captchas import ALPHABET, new_captcha
from tests.simulators.test_portal import PASSWORD, USER, alerts, client_for, make_app


def image_captcha_of(page: str) -> tuple[str, str]:
    """(the picture's address, the captcha id) of a login page showing an image captcha."""
    src = re.search(r'<img class="captcha-image" src="([^"]+)" alt="验证码图片"', page).group(1)
    captcha_id = re.search(r'name="captcha_id" value="([^"]+)"', page).group(1)
    return src, captcha_id


@pytest.mark.parametrize(("kind", "size"), [("image", None), ("image_hard", (160, 60))])
def test_an_image_captcha_is_a_picture_of_four_or_five_allowed_characters(kind, size):
    lengths = set()
    for seed in range(40):
        captcha = new_captcha(kind, random.Random(seed))
        assert captcha.question == "" and set(captcha.answer) <= set(ALPHABET)
        lengths.add(len(captcha.answer))
        with Image.open(io.BytesIO(captcha.png)) as picture:
            assert picture.format == "PNG"
            if size:
                assert picture.size == size
            else:  # about 24 pixels a character
                assert picture.height == 44 and picture.width == 30 + 24 * len(captcha.answer)
    assert lengths == {4, 5}


def test_the_common_kind_is_repeatable_from_its_seed_and_differs_between_seeds():
    assert new_captcha("image", random.Random(7)) == new_captcha("image", random.Random(7))
    assert new_captcha("image", random.Random(7)).png != new_captcha("image", random.Random(8)).png


async def test_a_wrong_answer_is_refused_and_a_new_picture_shown(tmp_path):
    app, _ = make_app("amr", tmp_path, captcha="image")
    portal = app.state.portal
    async with client_for(app) as c:
        src, cid = image_captcha_of((await c.get("/login")).text)
        r = await c.get(src)
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        assert r.content == portal.captcha_images[cid]
        wrong = "2222" if portal.captchas[cid] != "2222" else "3333"
        r = await c.post("/login", data={"username": USER, "password": PASSWORD, "captcha_id": cid, "captcha": wrong})
        assert r.status_code == 200 and alerts(r.text) == ["验证码错误，请重新输入"]
        src2, cid2 = image_captcha_of(r.text)
        assert cid2 != cid and src2 != src
        assert (await c.get(src)).status_code == 404  # the refused picture is used up
        answer = portal.captchas[cid2].lower()  # case does not matter
        r = await c.post("/login", data={"username": USER, "password": PASSWORD, "captcha_id": cid2, "captcha": answer})
        assert r.status_code == 303
        assert cid2 not in portal.captcha_images


async def test_the_captcha_kind_is_switched_per_portal_at_run_time(tmp_path):
    app, _ = make_app("amr", tmp_path)
    other, _ = make_app("hpf", tmp_path)
    async with client_for(app) as c, client_for(other) as o:
        assert "验证码" not in (await c.get("/login")).text
        for kind in ("image_hard", "image"):
            r = await c.put("/_admin/behaviour", json={"captcha": kind})
            assert r.status_code == 200 and r.json()["captcha"] == kind
            src, _ = image_captcha_of((await c.get("/login")).text)
            with Image.open(io.BytesIO((await c.get(src)).content)) as picture:
                assert picture.size == (160, 60) if kind == "image_hard" else picture.height == 44
        assert "验证码" not in (await o.get("/login")).text  # the other portal is left as it was
        r = await c.put("/_admin/behaviour", json={"captcha": "image_harder"})
        assert r.status_code == 422 and "image_hard" in r.text
        assert (await c.put("/_admin/behaviour", json={"captcha": None})).json()["captcha"] is None
        assert "captcha-image" not in (await c.get("/login")).text

"""OCR of generated materials: ID cards and business licences, clean and degraded, read and checked.

A small set (OCR is CPU-heavy): the accuracy over hundreds of pages is the bench's (``python -m bench.materials``).
"""

from __future__ import annotations

from datetime import date

import pytest
from stdnum.cn import ric

from ai.fields import fields_of
from ai.ocr import Reader, Unreadable
from ai.synthetic import draw_business_licence, draw_id_card, material_set
from domain.materials import INVALID_CONFIDENCE, normalised
from domain.samples import generate_application

TODAY = date(2026, 12, 1)


@pytest.fixture(scope="module")
def reader() -> Reader:
    return Reader()


def person(seed: int) -> dict:
    return generate_application(seed, today=TODAY)["legal_representative"]


@pytest.mark.parametrize("degraded", [False, True], ids=["clean", "degraded"])
def test_an_id_card_is_read_exactly(reader, degraded):
    p = person(11)
    drawn = draw_id_card(p, 11, degraded=degraded)
    assert drawn.content_type == ("image/jpeg" if degraded else "image/png")
    fields = fields_of("id_card", reader.lines(drawn.data))
    assert fields["id_number"].value == p["id_number"]
    assert fields["name"].value == p["name"]
    assert fields["id_number"].problem is None and fields["id_number"].confidence > 0.8
    assert normalised(fields["address"].value) == normalised(drawn.truth["address"])


def test_a_business_licence_is_read_exactly(reader):
    holder = {"name": "山西晋泰商贸有限公司", "uscc": "91140105MA0K123452"}
    from stdnum.cn import uscc

    holder["uscc"] = holder["uscc"][:17] + uscc.calc_check_digit(holder["uscc"][:17])
    drawn = draw_business_licence(holder, "李文华", 5, degraded=True)
    fields = fields_of("business_licence", reader.lines(drawn.data))
    assert fields["uscc"].value == holder["uscc"] and fields["uscc"].problem is None
    assert fields["name"].value == holder["name"]
    assert fields["legal_representative"].value == "李文华"


def test_a_number_with_a_wrong_check_digit_is_doubtful_not_a_fact(reader):
    p = dict(person(12))
    good = p["id_number"]
    wrong = next(d for d in "0123456789X" if d != ric.calc_check_digit(good))
    p["id_number"] = good[:17] + wrong
    fields = fields_of("id_card", reader.lines(draw_id_card(p, 12).data))
    assert fields["id_number"].value == p["id_number"]  # read as printed
    assert fields["id_number"].confidence <= INVALID_CONFIDENCE
    assert "校验位" in (fields["id_number"].problem or "")


def test_the_material_set_of_an_application(reader):
    application = generate_application(13, today=TODAY)
    drawn = material_set(application, 13)
    kinds = [d.kind for _, d in drawn]
    assert kinds[0] == "id_card" and kinds[-2:] == ["premises_proof", "articles_of_association"]
    articles = drawn[-1][1]
    fields = fields_of("articles_of_association", reader.lines(articles.data))
    assert fields["company_name"].value == application["company"]["name"]
    assert fields["registered_capital"].value == articles.truth["registered_capital"]


def test_what_is_no_picture_is_unreadable(reader):
    with pytest.raises(Unreadable):
        reader.lines(b"\x89PNG\r\n\x1a\nbroken")
    with pytest.raises(Unreadable):
        reader.lines(b"%PDF-1.7 no pdf at all")


def test_a_pdf_scan_is_read_from_its_first_page(reader):
    import io

    from PIL import Image

    p = person(14)
    img = Image.open(io.BytesIO(draw_id_card(p, 14).data))
    out = io.BytesIO()
    img.save(out, format="PDF", resolution=150)
    assert out.getvalue().startswith(b"%PDF-")
    fields = fields_of("id_card", reader.lines(out.getvalue()))
    assert fields["id_number"].value == p["id_number"]

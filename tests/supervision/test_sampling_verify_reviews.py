"""Verifiable means complete (issue 17): the sampling round's published record lists its drawn bodies and its
reviews (body code, method, date — no score), and both the standalone verifier and the platform before
publishing check them against the drawn result: 「the same for the sampling round's reviews against the drawn
bodies」."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from jianchama.supervision import sampling
from jianchama.supervision.models import Method, SampledBody, SamplingReview
from tests.supervision.test_sampling import ITEMS, build_world, run_script

pytestmark = pytest.mark.django_db


@pytest.fixture
def w(db):
    w = build_world()
    r = sampling.commit_round(w.supervisor, year=w.year, quarter=w.quarter)
    w.round = sampling.reveal_round(w.supervisor, sampling_round=r)
    w.sampled = list(SampledBody.objects.filter(round=w.round).order_by("position"))
    w.sheet = sampling.create_score_sheet(
        w.supervisor, name="案卷评查评分表", method=Method.CASE_FILE_REVIEW, items=ITEMS
    )
    for s in w.sampled[:2]:
        sampling.record_review(
            w.supervisor,
            sampled=s,
            method=Method.CASE_FILE_REVIEW,
            sheet=w.sheet,
            scores={item["name"]: item["max"] for item in ITEMS},
        )
    return w


def write(tmp_path, record) -> str:
    path = tmp_path / "sampling.json"
    path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    return path


def test_the_round_s_reviews_are_published_and_checked_against_the_drawn_bodies(w, tmp_path):
    record = sampling.published_record(w.round)
    codes = sorted(s.body.code for s in w.sampled[:2])
    assert [r["code"] for r in record["reviews"]] == codes
    assert {r["method"] for r in record["reviews"]} == {"case_file_review"}
    assert all("score" not in r and "total" not in r for r in record["reviews"])
    done = run_script(write(tmp_path, record))
    assert done.returncode == 0, done.stdout
    assert "评查记录2条，均为抽中单位，已评查2/3家" in done.stdout


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda r: r["reviews"].append({"code": "MH001", "method": "case_file_review"}),
            "MH001不在抽取结果中",
        ),
        (lambda r: r["reviews"].append(dict(r["reviews"][0])), "以同一方式评查了两次"),
        (lambda r: r["reviews"][0].update(method="phone_call"), "不是三种抽查方式之一"),
        (lambda r: r["bodies"].reverse(), "公布的抽中单位与抽取结果不一致"),
        (lambda r: r.pop("reviews"), "缺少抽中单位或评查清单"),
    ],
)
def test_the_verifier_names_a_review_of_a_body_not_drawn_and_other_mismatches(w, tmp_path, change, message):
    record = sampling.published_record(w.round)
    change(record)
    done = run_script(write(tmp_path, record))
    assert done.returncode == 1 and "核验未通过" in done.stdout and message in done.stdout


def test_the_platform_refuses_to_publish_a_record_whose_reviews_do_not_match(w):
    client = Client()
    assert client.get(f"/supervision/sampling/{w.round.pk}.json").status_code == 200
    # A review moved onto a body that was not drawn (as a bad import or a hand edit would).
    other = SampledBody.objects.create(round=w.round, body=w.mh_body, position=99)
    SamplingReview.objects.filter(sampled=w.sampled[0]).update(sampled=other)
    response = client.get(f"/supervision/sampling/{w.round.pk}.json")
    assert response.status_code == 409
    assert "暂不公开" in response.content.decode()

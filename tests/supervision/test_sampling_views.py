"""Sampling pages as their users see them: the public round pages and JSON (no login, rate-limited), the JSON
verified by the standalone script as a subprocess, the supervisor's commit/reveal/withdraw, score sheets and
reviews; a body sees its own reviews only."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from jianchama.core.roles import Role
from jianchama.supervision import sampling
from jianchama.supervision.models import (
    Finding,
    Method,
    SampledBody,
    SamplingReview,
    SamplingRound,
    ScoreSheet,
)
from tests.factories import user_for
from tests.supervision.test_sampling import ITEMS, SCRIPT, build_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def w(db):
    cache.clear()  # the rate limit counts per address in the cache
    return build_world()


def committed(w):
    return sampling.commit_round(w.supervisor, year=w.year, quarter=w.quarter)


def revealed(w):
    return sampling.reveal_round(w.supervisor, sampling_round=committed(w))


def test_urls():
    assert reverse("supervision:sampling_list") == "/supervision/sampling/"
    assert reverse("supervision:sampling_detail", args=[3]) == "/supervision/sampling/3/"
    assert reverse("supervision:sampling_json", args=[3]) == "/supervision/sampling/3.json"
    assert reverse("supervision:score_sheet_list") == "/supervision/sampling/sheets/"


def test_a_supervisor_commits_from_the_list_page(client, w):
    client.force_login(w.supervisor)
    page = client.get(reverse("supervision:sampling_list"))
    assert page.status_code == 200 and "生成快照并公布承诺值" in page.text
    response = client.post(
        reverse("supervision:sampling_list"), {"year": w.year, "quarter": w.quarter, "ratio": "20%"}
    )
    sampling_round = SamplingRound.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("supervision:sampling_detail", args=[sampling_round.pk])
    assert sampling_round.ratio == "0.2" and sampling_round.body_count == 5
    page = client.get(response["Location"])
    assert sampling_round.pool_hash in page.text and "公开种子并抽取" in page.text
    assert sampling_round.seed not in page.text


def test_a_refused_commit_shows_why_and_saves_nothing(client, w):
    client.force_login(w.supervisor)
    page = client.post(
        reverse("supervision:sampling_list"), {"year": w.year, "quarter": w.quarter, "ratio": "5%"}
    )
    assert page.status_code == 200 and "抽查比例不得低于10%" in page.text
    assert not SamplingRound.objects.exists()


def test_others_cannot_commit(client, w):
    admin = user_for(Role.BODY_ADMIN, body=w.bodies[0])
    client.force_login(admin)
    assert "生成快照并公布承诺值" not in client.get(reverse("supervision:sampling_list")).text
    response = client.post(reverse("supervision:sampling_list"), {"year": w.year, "quarter": w.quarter})
    assert response.status_code == 403 and "只有司法局执法监督人员" in response.text
    assert not SamplingRound.objects.exists()


def test_reveal_and_withdraw_through_the_pages(client, w):
    sampling_round = committed(w)
    client.force_login(w.mh_supervisor)
    refused = client.post(reverse("supervision:sampling_reveal", args=[sampling_round.pk]))
    assert refused.status_code == 403 and "金山区" in refused.text
    client.force_login(w.supervisor)
    response = client.post(reverse("supervision:sampling_reveal", args=[sampling_round.pk]), follow=True)
    sampling_round.refresh_from_db()
    assert sampling_round.status == "revealed" and "抽中3家执法单位" in response.text
    assert sampling_round.seed in response.text
    again = client.post(
        reverse("supervision:sampling_withdraw", args=[sampling_round.pk]), {"reason": "x"}, follow=True
    )
    assert "不能改为" in again.text


def test_the_public_pages_need_no_login_and_hide_the_seed_until_revealed(client, w):
    sampling_round = committed(w)
    page = client.get(reverse("supervision:sampling_detail", args=[sampling_round.pk]))
    assert page.status_code == 200 and sampling_round.seed_commitment in page.text
    assert sampling_round.seed not in page.text and "公开种子并抽取" not in page.text
    assert (
        sampling_round.seed
        not in client.get(reverse("supervision:sampling_json", args=[sampling_round.pk])).text
    )
    sampling.reveal_round(w.supervisor, sampling_round=sampling_round)
    page = client.get(reverse("supervision:sampling_detail", args=[sampling_round.pk]))
    sampling_round.refresh_from_db()
    assert sampling_round.seed in page.text
    names = [s.body.name for s in SampledBody.objects.filter(round=sampling_round)]
    assert all(name in page.text for name in names)
    listing = client.get(reverse("supervision:sampling_list"))
    assert listing.status_code == 200 and sampling_round.period_label in listing.text
    assert "生成快照并公布承诺值" not in listing.text


def test_the_served_json_is_verified_by_the_script(client, w, tmp_path):
    sampling_round = revealed(w)
    response = client.get(reverse("supervision:sampling_json", args=[sampling_round.pk]))
    assert response["Content-Type"].startswith("application/json")
    path = tmp_path / "sampling.json"
    path.write_bytes(response.content)
    args = ["--pool-hash", sampling_round.pool_hash, "--commitment", sampling_round.seed_commitment]
    done = subprocess.run([sys.executable, str(SCRIPT), str(path), *args], capture_output=True, text=True)
    assert done.returncode == 0 and "核验通过" in done.stdout, done.stdout
    served = client.get(reverse("supervision:sampling_verifier"))
    assert served.status_code == 200 and b"jcm-sampling-v1" in served.content


@override_settings(SAMPLING_PUBLIC_RATE_LIMIT="3/m")
def test_the_public_pages_are_rate_limited(client, w):
    sampling_round = committed(w)
    url = reverse("supervision:sampling_json", args=[sampling_round.pk])
    assert [client.get(url).status_code for _ in range(4)] == [200, 200, 200, 429]


# --- Score sheets ---------------------------------------------------------------------------------------------


def test_a_supervisor_writes_and_edits_a_score_sheet(client, w):
    client.force_login(w.supervisor)
    response = client.post(
        reverse("supervision:score_sheet_create"),
        {
            "name": "案卷评查评分表",
            "method": Method.CASE_FILE_REVIEW,
            "items": "检查计划按时备案并公告 | 30\n执法人员持证，出示检查码：40\n\n检查记录完整 30",
            "pass_score": "70",
        },
    )
    assert response.status_code == 302
    sheet = ScoreSheet.objects.get()
    assert [i["max"] for i in sheet.items] == [30, 40, 30] and sheet.items[1][
        "name"
    ] == "执法人员持证，出示检查码"
    page = client.get(reverse("supervision:score_sheet_list"))
    assert "案卷评查评分表" in page.text and "满分100分" in page.text and "合格线70%" in page.text
    edit = reverse("supervision:score_sheet_edit", args=[sheet.pk])
    assert "检查记录完整 | 30" in client.get(edit).text
    bad = client.post(
        edit, {"name": "案卷评查评分表", "method": Method.CASE_FILE_REVIEW, "items": "只有名称"}
    )
    assert bad.status_code == 200 and "分值「」不是整数" in bad.text
    client.post(
        edit, {"name": "新名称", "method": Method.CASE_FILE_REVIEW, "items": "一项 | 10", "is_active": "on"}
    )
    sheet.refresh_from_db()
    assert sheet.name == "新名称" and sheet.items == [{"name": "一项", "max": 10}]


def test_a_body_reads_the_sheets_but_cannot_write_them(client, w):
    sampling.create_score_sheet(w.supervisor, name="资料评分表", method=Method.DOCUMENT_REVIEW, items=ITEMS)
    client.force_login(user_for(Role.BODY_ADMIN, body=w.bodies[0]))
    page = client.get(reverse("supervision:score_sheet_list"))
    assert "资料评分表" in page.text and "新建评分表" not in page.text and "修改" not in page.text
    assert client.get(reverse("supervision:score_sheet_create")).status_code == 403


# --- Reviews --------------------------------------------------------------------------------------------------


def test_a_review_through_the_pages_becomes_a_finding_that_the_body_sees(client, w):
    sampling_round = revealed(w)
    sheet = sampling.create_score_sheet(
        w.supervisor, name="案卷评查评分表", method=Method.CASE_FILE_REVIEW, items=ITEMS
    )
    sampled = SampledBody.objects.filter(round=sampling_round).order_by("position").first()
    client.force_login(w.supervisor)
    detail = client.get(reverse("supervision:sampling_detail", args=[sampling_round.pk]))
    url = reverse("supervision:sampling_review_create", args=[sampled.pk])
    assert url in detail.text
    assert "案卷评查评分表" in client.get(url).text
    form_url = f"{url}?sheet={sheet.pk}"
    data = {
        "score_0": 30,
        "score_1": 10,
        "score_2": 30,
        "problem_1": "on",
        "note_1": "三名执法人员未出示检查码",
        "reviewed_on": timezone.localdate().isoformat(),
        "notes": "执法程序不规范",
    }
    bad = client.post(form_url, {**data, "score_1": 50})
    assert bad.status_code == 200 and not SamplingReview.objects.exists()
    response = client.post(form_url, data, follow=True)
    review = SamplingReview.objects.get()
    assert review.method == Method.CASE_FILE_REVIEW and review.total == 70 and review.passed
    assert "已形成监督问题" in response.text and "三名执法人员未出示检查码" in response.text
    finding = Finding.objects.get()
    assert finding.source == "sampling" and finding.body == sampled.body
    finding_url = reverse("supervision:finding_detail", args=[finding.pk])
    assert finding_url in client.get(reverse("supervision:sampling_review_detail", args=[review.pk])).text
    # The reviewed method is no longer offered for this body.
    assert "案卷评查评分表" not in client.get(url).text

    own = user_for(Role.BODY_ADMIN, body=sampled.body)
    client.force_login(own)
    own_view = client.get(reverse("supervision:sampling_review_detail", args=[review.pk]))
    # The body sees the finding's title, but no link until the bureau has warned it (it could not open it).
    assert own_view.status_code == 200 and finding.title in own_view.text and finding_url not in own_view.text
    assert sampled.body.name in client.get(reverse("supervision:sampling_review_list")).text
    assert "70/100" in client.get(reverse("supervision:sampling_detail", args=[sampling_round.pk])).text
    assert client.get(url).status_code == 403

    other = user_for(Role.BODY_ADMIN, body=next(b for b in w.bodies if b != sampled.body))
    client.force_login(other)
    assert client.get(reverse("supervision:sampling_review_detail", args=[review.pk])).status_code == 404
    assert "70/100" not in client.get(reverse("supervision:sampling_detail", args=[sampling_round.pk])).text
    client.logout()
    assert "70/100" not in client.get(reverse("supervision:sampling_detail", args=[sampling_round.pk])).text
    assert client.get(reverse("supervision:sampling_review_list")).status_code == 302  # login first


def test_an_observation_sheet_is_preset_with_the_five_prohibitions_and_eight_donts(client, w):
    """明察暗访 checks “五个严禁”“八个不得” (seed 003 二（一）4): the sheet starts from the two lists."""
    from jianchama.core import conduct

    client.force_login(w.supervisor)
    assert "?preset=conduct" in client.get(reverse("supervision:score_sheet_list")).text
    form = client.get(reverse("supervision:score_sheet_create"), {"preset": "conduct"}).text
    for rule in conduct.FIVE_PROHIBITIONS + conduct.EIGHT_DONTS:
        assert rule.text in form
    response = client.post(
        reverse("supervision:score_sheet_create"),
        {
            "name": "明察暗访评分表",
            "method": Method.ONSITE_OBSERVATION,
            "items": "\n".join(f"{i['name']} | {i['max']}" for i in conduct.observation_score_items()),
        },
    )
    assert response.status_code == 302
    sheet = ScoreSheet.objects.get()
    assert sheet.items == conduct.observation_score_items() and sheet.full_marks == 100

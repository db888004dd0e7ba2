"""The plan pages through the Django test client: drafts, filing actions, the supervisors' lists, the
coordination page, and the public announcement with its CSV and JSON open data."""

from __future__ import annotations

import csv
import datetime
import html
import io
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jianchama.plans import services
from jianchama.plans.models import CoordinationProposal, Plan

pytestmark = pytest.mark.django_db

D = datetime.date
YEAR = timezone.localdate().year


def messages_of(response) -> list[str]:
    return re.findall(r'class="msg [^"]*">(.*?)<', response.content.decode())


def text(response) -> str:
    return response.content.decode()


def form_data(s, **overrides) -> dict:
    data = {
        "title": f"{YEAR}年度燃气日常检查计划",
        "method": Plan.Method.ROUTINE,
        "period_start": f"{YEAR}-01-01",
        "period_end": f"{YEAR}-12-31",
        "items": [s.item.pk],
        "expected_count": "30",
        "target_industries": "燃气生产和供应业、餐饮业",
        "target_risk_grades": ["C", "D"],
        "target_regions": [s.zhujing.pk],
        "target_enterprises": "",
        "description": "",
    }
    return {**data, **overrides}


@pytest.mark.parametrize(
    ("who", "shown"),
    [
        ("inspector_user", True),
        ("head", True),
        ("city_reviewer", True),
        ("supervisor", True),
        ("admin", True),
        ("observer", False),
        ("government", False),
    ],
)
def test_the_menu_offers_plans_to_who_works_with_them(client, s, who, shown):
    client.force_login(getattr(s, who))
    assert ('href="/plans/"' in text(client.get("/registry/bodies/"))) is shown


def test_an_inspector_creates_a_draft_from_the_form(client, s):
    client.force_login(s.inspector_user)
    assert "制定检查计划" in text(client.get("/plans/new/"))
    response = client.post("/plans/new/", form_data(s), follow=True)
    plan = Plan.objects.get()
    assert response.redirect_chain[-1][0] == f"/plans/{plan.pk}/"
    assert "已保存为草稿" in messages_of(response)[0]
    assert plan.target_industries == ["燃气生产和供应业", "餐饮业"]
    assert plan.target_risk_grades == ["C", "D"] and list(plan.target_regions.all()) == [s.zhujing]
    page = text(response)
    assert "报送备案" in page and "创建检查计划" in page  # the button, and the timeline
    assert "市级执法单位审核 → 区司法局备案 → 公告" in page


def test_a_bad_form_says_what_is_wrong_and_saves_nothing(client, s):
    client.force_login(s.inspector_user)
    response = client.post(
        "/plans/new/",
        form_data(s, period_start=f"{YEAR}-06-01", period_end=f"{YEAR}-05-01", expected_count="0"),
    )
    page = text(response)
    assert response.status_code == 200
    assert "不能早于计划期间起" in page and "预计检查户数须至少为1户" in page
    assert not Plan.objects.exists()
    response = client.post("/plans/new/", form_data(s, target_enterprises="91310116MA0000000X"))
    assert "没有统一社会信用代码为91310116MA0000000X的企业" in text(response)
    # The form offers only the items the body may check; another body's item is not a choice.
    response = client.post("/plans/new/", form_data(s, items=[s.partner_item.pk]))
    assert "检查事项" in text(response) and not Plan.objects.exists()


def test_a_named_list_is_entered_as_codes(client, s):
    client.force_login(s.head)
    client.post("/plans/new/", form_data(s, target_enterprises=f"{s.gas_a.uscc.lower()}\n{s.gas_c.uscc}"))
    assert set(Plan.objects.get().target_enterprises.all()) == {s.gas_a, s.gas_c}


def test_who_may_not_create_is_told_why(client, s):
    client.force_login(s.supervisor)
    response = client.get("/plans/new/")
    assert response.status_code == 403
    assert "只有执法单位的执法人员或管理员" in text(response)


def test_a_draft_is_edited_then_locked_once_submitted(client, s):
    plan = s.draft()
    client.force_login(s.head)
    assert f'value="{plan.title}"' in text(client.get(f"/plans/{plan.pk}/edit/"))
    response = client.post(f"/plans/{plan.pk}/edit/", form_data(s, expected_count="45"), follow=True)
    assert "检查计划已修改" in messages_of(response)
    assert Plan.objects.get().expected_count == 45
    client.post(f"/plans/{plan.pk}/submit/")
    response = client.get(f"/plans/{plan.pk}/edit/")
    assert response.status_code == 403 and "只有本单位草稿或退回修改的计划可以修改" in text(response)


def test_filing_through_the_pages(client, s):
    plan = s.draft()
    client.force_login(s.inspector_user)
    response = client.post(f"/plans/{plan.pk}/submit/", follow=True)
    assert messages_of(response) == ["已报送备案"]
    assert "剩余5个工作日" in text(response)

    client.force_login(s.city_reviewer)
    listing = text(client.get("/plans/"))
    assert "待我审核（1）" in listing
    response = client.post(f"/plans/{plan.pk}/return/", {"comment": ""}, follow=True)
    assert messages_of(response) == ["退回修改须写明修改意见，告诉执法单位要改什么"]
    response = client.post(f"/plans/{plan.pk}/approve/", {"comment": "同意"}, follow=True)
    assert messages_of(response) == ["已审核通过"]

    client.force_login(s.supervisor)
    page = text(client.get(f"/plans/{plan.pk}/"))
    assert "备案通过" in page and "退回修改" in page
    response = client.post(f"/plans/{plan.pk}/approve/", follow=True)
    plan.refresh_from_db()
    assert messages_of(response) == [f"已备案，计划编号{plan.number}"]

    client.force_login(s.inspector_user)
    assert "公告</button>" not in text(client.get(f"/plans/{plan.pk}/"))  # the body admin announces
    client.force_login(s.head)
    response = client.post(f"/plans/{plan.pk}/publish/", follow=True)
    assert messages_of(response) == ["已公告，公众可在计划公示页查看"]
    assert Plan.objects.get().status == Plan.Status.PUBLISHED
    page = text(response)
    for label in ("创建检查计划", "报送备案", "市级执法单位审核通过", "区司法局备案通过", "公告检查计划"):
        assert label in page


def test_refusals_come_back_as_messages_or_403(client, s):
    plan = s.submitted()
    client.force_login(s.supervisor)
    response = client.post(f"/plans/{plan.pk}/approve/", follow=True)  # not yet at the bureau: not visible
    assert response.status_code == 404
    client.force_login(s.head)
    response = client.post(f"/plans/{plan.pk}/approve/")
    assert response.status_code == 403 and "审核检查计划" in text(response)
    response = client.post(f"/plans/{plan.pk}/publish/", follow=True)
    assert messages_of(response) == [
        f"检查计划「{plan.title}」当前状态为「待市级执法单位审核」，只有已备案的计划可以公告"
    ]
    assert client.get(f"/plans/{plan.pk}/draw/").status_code == 404  # not an action


def test_other_bodies_do_not_reach_a_draft(client, s):
    plan = s.draft()
    client.force_login(s.other_head)
    assert client.get(f"/plans/{plan.pk}/").status_code == 404
    assert client.post(f"/plans/{plan.pk}/submit/").status_code == 404


def test_an_overdue_step_is_flagged(client, s, at):
    at(2025, 9, 30, 10)
    plan = s.submitted(period_start=D(2025, 10, 1), period_end=D(2025, 12, 31))
    at(2025, 10, 16, 10)
    client.force_login(s.city_reviewer)
    assert "已超期2个工作日" in text(client.get(f"/plans/{plan.pk}/"))
    assert "已超期2个工作日" in text(client.get("/plans/"))


def test_the_supervisors_page(client, s, at):
    at(2025, 1, 6, 10)
    special = s.filed(title="燃气安全专项整治", method=Plan.Method.SPECIAL)
    s.filed(title="日常检查计划")
    s.submitted(s.draft(s.town_inspector, title="朱泾镇计划"))
    at(2025, 2, 10, 10)
    client.force_login(s.supervisor)
    page = text(client.get("/plans/supervision/"))
    assert "待备案（1，其中超期1）" in page and "朱泾镇计划" in page
    assert "已备案未公告（2）" in page
    assert "专项检查计划备案后一个月内未公告（1）" in page and "仍未公告，已逾期4天" in page
    assert special.title in page
    client.force_login(s.head)
    assert client.get("/plans/supervision/").status_code == 403


# --- Coordination -----------------------------------------------------------------------------------------


@pytest.fixture
def overlapping(s):
    s.gas_plan = s.filed(title="燃气日常检查", target_industries=["燃气生产和供应业"])
    s.market_plan = s.filed(
        s.draft(s.partner_head, title="燃气器具抽查", items=[s.partner_item], target_risk_grades=["C", "D"])
    )
    return s


def test_the_coordination_page_finds_overlaps_and_makes_a_proposal(client, overlapping):
    s = overlapping
    client.force_login(s.supervisor)
    query = {"region": s.jinshan.pk, "start": f"{YEAR}-01-01", "end": f"{YEAR}-12-31"}
    page = text(client.get("/plans/coordination/", query))
    assert "重叠情况（1组）" in page and "金山燃气丙公司" in page and "金山燃气丁公司" in page
    response = client.post(
        "/plans/coordination/propose/",
        {
            **query,
            "plans": [s.gas_plan.pk, s.market_plan.pk],
            "enterprises": [s.gas_c.pk, s.gas_d.pk],
            "comment": "建议合并检查",
        },
        follow=True,
    )
    proposal = CoordinationProposal.objects.get()
    assert response.redirect_chain[-1][0] == f"/plans/coordination/{proposal.pk}/"
    assert "待各执法单位确认" in messages_of(response)[0]
    assert "已有" in text(client.get("/plans/coordination/", query))
    response = client.post(
        "/plans/coordination/propose/", {**query, "plans": [s.gas_plan.pk, s.market_plan.pk]}, follow=True
    )
    assert "已有涉及相同检查计划的" in messages_of(response)[0]

    client.force_login(s.head)
    page = text(client.get(f"/plans/coordination/{proposal.pk}/"))
    assert "本单位接受" in page and "为该企业创建联合检查任务" not in page
    response = client.post(f"/plans/coordination/{proposal.pk}/accept/", follow=True)
    assert messages_of(response) == ["本单位已接受联合检查建议"]
    client.force_login(s.partner_head)
    response = client.post(f"/plans/coordination/{proposal.pk}/decline/", {"comment": ""}, follow=True)
    assert messages_of(response) == ["不接受联合检查建议须写明理由"]
    response = client.post(f"/plans/coordination/{proposal.pk}/accept/", follow=True)
    assert "各单位均已接受" in messages_of(response)[0]
    page = text(response)
    assert page.count("为该企业创建联合检查任务") == 2
    link = html.unescape(re.search(r'href="(/tasks/new/\?[^"]+)"', page).group(1))
    query = parse_qs(urlsplit(link).query)
    assert query["uscc"][0] in (s.gas_c.uscc, s.gas_d.uscc)
    # Led by the partner's own plan, with the gas body joining and both plans' items.
    assert query["plan_number"] == [s.market_plan.number] and query["kind"] == ["routine"]
    assert query["joint_bodies"] == [str(s.body.pk)]
    assert set(query["items"]) == {str(s.item.pk), str(s.partner_item.pk)}


def test_outsiders_do_not_reach_the_coordination_pages(client, overlapping):
    s = overlapping
    proposal = services.propose_merge(
        s.supervisor,
        region=s.jinshan,
        start=D(YEAR, 1, 1),
        end=D(YEAR, 12, 31),
        plans=[s.gas_plan, s.market_plan],
    )
    client.force_login(s.observer)
    assert client.get("/plans/coordination/").status_code == 403
    client.force_login(s.town_head)
    assert client.get(f"/plans/coordination/{proposal.pk}/").status_code == 404
    client.force_login(s.mh_supervisor)
    response = client.get(
        "/plans/coordination/", {"region": s.jinshan.pk, "start": f"{YEAR}-01-01", "end": f"{YEAR}-12-31"}
    )
    # Jinshan is not among the regions offered to Minhang's supervisor: the form refuses it, nothing is shown.
    assert response.status_code == 200 and "重叠情况" not in text(response)


# --- The public announcement and open data ----------------------------------------------------------------


def body(response) -> bytes:
    """A response's bytes, streamed or not (the open-data JSON is streamed)."""
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def public(s):
    s.routine = s.published(title="金山燃气日常检查计划", target_enterprises=[s.gas_a, s.gas_c])
    s.special = s.published(
        title="燃气安全专项整治计划",
        method=Plan.Method.SPECIAL,
        period_start=D(YEAR, 7, 1),
        period_end=D(YEAR, 9, 30),
        items=[s.item, s.second_item],
    )
    s.town = s.published(s.draft(s.town_inspector, title="朱泾镇日常检查计划"))
    s.filed_only = s.filed(title="已备案未公告的计划")
    s.draft(title="草稿计划")
    return s


def test_the_public_page_lists_published_plans_without_login(client, public):
    s = public
    page = text(client.get("/plans/public/"))
    for title in ("金山燃气日常检查计划", "燃气安全专项整治计划", "朱泾镇日常检查计划"):
        assert title in page
    assert "已备案未公告的计划" not in page and "草稿计划" not in page
    assert s.routine.number in page


@pytest.mark.parametrize(
    ("query", "titles"),
    [
        ({"method": "special"}, {"燃气安全专项整治计划"}),
        ({"start": f"{YEAR}-10-01"}, {"金山燃气日常检查计划", "朱泾镇日常检查计划"}),
        (
            {"start": f"{YEAR}-08-01", "end": f"{YEAR}-08-31"},
            {"金山燃气日常检查计划", "燃气安全专项整治计划", "朱泾镇日常检查计划"},
        ),
        ({"end": f"{YEAR - 1}-12-31"}, set()),
    ],
)
def test_the_public_filters(client, public, query, titles):
    data = json.loads(body(client.get("/plans/public.json", query)))
    assert {p["title"] for p in data["plans"]} == titles
    page = text(client.get("/plans/public/", query))
    for title in titles:
        assert title in page


def test_the_body_filter(client, public):
    s = public
    data = json.loads(body(client.get("/plans/public.json", {"body": s.town_body.pk})))
    assert [p["title"] for p in data["plans"]] == ["朱泾镇日常检查计划"]
    assert "朱泾镇综合行政执法队" in text(client.get("/plans/public/"))  # offered as a filter choice


def test_the_public_detail_page(client, public):
    s = public
    page = text(client.get(f"/plans/public/{s.routine.pk}/"))
    assert s.routine.number in page and "燃气经营许可情况检查" in page
    assert "指定企业名单2家" in page and "金山燃气甲公司" not in page
    assert client.get(f"/plans/public/{s.filed_only.pk}/").status_code == 404


def test_open_data_as_csv_opens_in_excel_and_parses_back(client, public):
    s = public
    response = client.get("/plans/public.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    raw = response.content
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == 3
    special = next(r for r in rows if r["计划名称"] == "燃气安全专项整治计划")
    assert special["计划编号"] == s.special.number
    assert special["执法单位"] == "金山区建设和管理委员会"
    assert special["检查方式"] == "专项检查"
    assert (special["计划期间起"], special["计划期间止"]) == (f"{YEAR}-07-01", f"{YEAR}-09-30")
    assert special["检查事项"] == "燃气经营许可情况检查；燃气设施安全检查"
    assert special["预计检查户数"] == "20"
    assert special["详情"].endswith(f"/plans/public/{s.special.pk}/")
    routine = next(r for r in rows if r["计划名称"] == "金山燃气日常检查计划")
    assert routine["检查对象范围"] == "指定企业名单2家"
    filtered = client.get("/plans/public.csv", {"method": "special"}).content.decode("utf-8-sig")
    assert len(list(csv.DictReader(io.StringIO(filtered)))) == 1


def test_open_data_as_json(client, public):
    s = public
    data = json.loads(body(client.get("/plans/public.json")))
    assert data["count"] == 3
    town = next(p for p in data["plans"] if p["number"] == s.town.number)
    assert town["body"] == {"code": s.town_body.code, "name": "朱泾镇综合行政执法队"}
    assert town["method"] == "routine" and town["method_label"] == "日常检查"
    assert town["items"] == [{"code": s.item.code, "name": "燃气经营许可情况检查"}]
    assert town["target"]["listed_enterprises"] == 0
    assert town["expected_count"] == 20
    assert datetime.datetime.fromisoformat(town["published_at"]).tzinfo is not None
    routine = next(p for p in data["plans"] if p["number"] == s.routine.number)
    assert routine["target"]["listed_enterprises"] == 2 and "金山燃气甲公司" not in json.dumps(
        data, ensure_ascii=False
    )


def test_open_data_takes_the_same_queries_for_3_plans_and_for_13(client, public):
    """Each plan's items, regions, enterprise list size and body's district were read per plan (2,256 to 2,979
    queries for the city's plans): now a fixed number, however many plans are published."""
    s = public

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
            body(response)
        return len(captured)

    few = {url: queries(url) for url in ("/plans/public.csv", "/plans/public.json")}
    for n in range(10):
        s.published(title=f"第{n}号日常检查计划", target_enterprises=[s.gas_a])
    many = {url: queries(url) for url in ("/plans/public.csv", "/plans/public.json")}
    assert many == few
    data = json.loads(body(client.get("/plans/public.json")))
    assert data["count"] == 13 and len(data["plans"]) == 13
    assert {p["target_scope"] for p in data["plans"] if p["title"].startswith("第")} == {"指定企业名单1家"}


def test_the_public_endpoints_are_rate_limited_per_client(client, public, settings):
    settings.PUBLIC_PLANS_RATE_LIMIT = "3/d"
    codes = [
        client.get(url).status_code
        for url in ("/plans/public/", "/plans/public.csv", "/plans/public.json", "/plans/public/")
    ]
    assert codes == [200, 200, 200, 429]
    limited = client.get("/plans/public.json")
    assert limited.status_code == 429 and "请求过于频繁" in text(limited)
    other = client.get("/plans/public/", REMOTE_ADDR="10.0.0.9")
    assert other.status_code == 200


def test_open_data_csv_neutralises_a_title_that_would_run_as_a_formula(client, s):
    # A plan's title is typed by a body; in a spreadsheet a leading = would make it a live formula.
    s.published(title='=HYPERLINK("http://evil.example","点我")')
    rows = list(csv.DictReader(io.StringIO(client.get("/plans/public.csv").content.decode("utf-8-sig"))))
    assert [r["计划名称"] for r in rows] == ['\'=HYPERLINK("http://evil.example","点我")']


@pytest.mark.parametrize(
    ("who", "url"),
    [
        ("head", "/plans/"),
        ("supervisor", "/plans/"),
        ("supervisor", "/plans/supervision/"),
        (None, "/plans/public/"),
    ],
)
def test_the_plan_lists_take_the_same_queries_for_3_plans_and_for_12(client, s, monkeypatch, who, url):
    """No query per plan (issue 16): the body's list, the supervisors' page and the public list."""
    from jianchama.core import pages

    monkeypatch.setattr(pages, "PAGE_SIZE", 500)
    if who:
        client.force_login(getattr(s, who))

    def queries() -> tuple[int, str]:
        client.get(url)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200
        return len(captured), text(response)

    for n in range(3):
        s.published(title=f"第{n}号计划", target_enterprises=[s.gas_a] if n % 2 else [])
    few, _ = queries()
    for n in range(3, 12):
        s.published(title=f"第{n}号计划", target_enterprises=[s.gas_a] if n % 2 else [])
    many, page = queries()
    assert many == few, f"{url}: {few} queries for 3 plans, {many} for 12"
    if url != "/plans/supervision/":
        assert "第11号计划" in page

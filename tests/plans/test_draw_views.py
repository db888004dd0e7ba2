"""Random draw pages: the body's plan page (commit, reveal, withdraw), the public pages and JSON (一公开), the
conflicts register; and the standalone verifier run as a subprocess on the JSON the platform serves."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from django.urls import reverse
from django.utils import timezone

from jianchama.inspections.models import Task
from jianchama.plans import draws
from jianchama.plans.models import ConflictOfInterest, RandomDraw
from tests.factories import make_uscc
from tests.plans.test_draws import ROOT, build_world, window

pytestmark = pytest.mark.django_db

SCRIPT = ROOT / "scripts" / "verify_draw.py"


@pytest.fixture
def w(db):
    return build_world()


def plan_url(w):
    return reverse("draws:plan_draws", args=[w.plan.pk])


def dates():
    return {key: value.isoformat() for key, value in window().items()}


def test_urls():
    assert reverse("draws:list") == "/draws/"
    assert reverse("draws:detail", args=[7]) == "/draws/7/"
    assert reverse("draws:json", args=[7]) == "/draws/7.json"
    assert reverse("draws:plan_draws", args=[3]) == "/draws/plan/3/"


def test_the_admin_commits_from_the_plan_page(client, w):
    client.force_login(w.head)
    page = client.get(plan_url(w))
    assert page.status_code == 200 and "生成快照并公布承诺值" in page.text
    response = client.post(plan_url(w), {"enterprise_count": 4, "inspectors_per_task": 2, "ratio_B": "1"})
    assert response.status_code == 302
    draw = RandomDraw.objects.get()
    assert draw.strata == {"B": "1"} and draw.enterprise_count == 4
    page = client.get(plan_url(w))
    assert draw.pool_hash in page.text and "公开种子并抽取" in page.text
    assert "生成快照并公布承诺值" not in page.text  # one pending draw at a time
    assert draw.seed not in page.text


def test_bad_strata_are_shown_and_nothing_saved(client, w):
    client.force_login(w.head)
    response = client.post(
        plan_url(w), {"enterprise_count": 4, "inspectors_per_task": 2, "ratio_A": "0.3", "ratio_B": "0.3"}
    )
    assert response.status_code == 200
    assert "各风险等级的抽取比例之和应为1（当前为0.6）" in response.text
    assert not RandomDraw.objects.exists()


def test_a_too_large_count_is_shown(client, w):
    client.force_login(w.head)
    response = client.post(plan_url(w), {"enterprise_count": 50, "inspectors_per_task": 2})
    assert "企业库只有20户，少于拟抽取的50户" in response.text
    assert not RandomDraw.objects.exists()


def test_an_inspector_sees_the_page_but_may_not_commit(client, w):
    client.force_login(w.inspector_user)
    assert "生成快照并公布承诺值" not in client.get(plan_url(w)).text
    response = client.post(plan_url(w), {"enterprise_count": 4, "inspectors_per_task": 2})
    assert response.status_code == 403
    assert not RandomDraw.objects.exists()


def test_another_body_does_not_see_an_unpublished_plans_page(client, w):
    client.force_login(w.other_head)
    assert client.get(plan_url(w)).status_code == 404


def test_reveal_creates_the_tasks_and_shows_the_public_result(client, w):
    draw = draws.commit_draw(w.head, plan=w.plan, enterprise_count=3)
    client.force_login(w.head)
    response = client.post(reverse("draws:reveal", args=[draw.pk]), dates())
    assert response.status_code == 302 and response.url == reverse("draws:detail", args=[draw.pk])
    draw.refresh_from_db()
    assert draw.status == RandomDraw.Status.REVEALED
    tasks = list(Task.objects.filter(draw=draw))
    assert len(tasks) == 3
    page = client.get(response.url)
    assert draw.seed in page.text
    for task in tasks:
        assert reverse("inspections:task_detail", args=[task.pk]) in page.text
        assert task.enterprise.name in page.text
    plan_page = client.get(plan_url(w))
    assert all(task.number in plan_page.text for task in tasks)


def test_a_refused_reveal_says_why(client, w):
    draw = draws.commit_draw(w.head, plan=w.plan, enterprise_count=3)
    client.force_login(w.head)
    today = timezone.localdate()
    response = client.post(
        reverse("draws:reveal", args=[draw.pk]),
        {"window_start": today.isoformat(), "window_end": (today - timezone.timedelta(days=1)).isoformat()},
        follow=True,
    )
    assert "检查日期止不能早于日期起" in response.text
    assert not Task.objects.exists()


def test_only_the_admin_reveals(client, w):
    draw = draws.commit_draw(w.head, plan=w.plan, enterprise_count=3)
    client.force_login(w.inspector_user)
    assert client.post(reverse("draws:reveal", args=[draw.pk]), dates()).status_code == 403
    client.force_login(w.other_head)
    assert client.post(reverse("draws:reveal", args=[draw.pk]), dates()).status_code == 404
    assert not Task.objects.exists()


def test_withdraw_from_the_page(client, w):
    draw = draws.commit_draw(w.head, plan=w.plan, enterprise_count=3)
    client.force_login(w.head)
    client.post(reverse("draws:withdraw", args=[draw.pk]), {"reason": "执法人员调整"})
    draw.refresh_from_db()
    assert draw.withdrawn_at is not None
    page = client.get(reverse("draws:detail", args=[draw.pk]))
    assert draw.seed in page.text and "执法人员调整" in page.text


# --- Public pages ---------------------------------------------------------------------------------------


def test_a_committed_draw_is_public_without_its_seed(client, w):
    draw = draws.commit_draw(w.head, plan=w.plan, enterprise_count=3)
    page = client.get(reverse("draws:detail", args=[draw.pk]))
    assert page.status_code == 200
    assert draw.pool_hash in page.text and draw.seed_commitment in page.text
    assert draw.seed not in page.text
    listing = client.get(reverse("draws:list"))
    assert reverse("draws:detail", args=[draw.pk]) in listing.text
    data = client.get(reverse("draws:json", args=[draw.pk])).json()
    assert data["status"] == "committed" and "seed" not in data and "result" not in data
    assert data["pool_hash"] == draw.pool_hash and len(data["pool"]) == 20


def test_the_public_result_page_names_no_task_links_for_the_public(client, w):
    draw = draws.reveal_draw(
        w.head, draw=draws.commit_draw(w.head, plan=w.plan, enterprise_count=3), **window()
    )
    page = client.get(reverse("draws:detail", args=[draw.pk]))
    assert page.status_code == 200
    for task in Task.objects.filter(draw=draw):
        assert task.number in page.text
        assert reverse("inspections:task_detail", args=[task.pk]) not in page.text
    assert "verify_draw.py" in page.text and reverse("draws:json", args=[draw.pk]) in page.text


def test_the_json_of_a_revealed_draw(client, w):
    draw = draws.reveal_draw(
        w.head, draw=draws.commit_draw(w.head, plan=w.plan, enterprise_count=3), **window()
    )
    response = client.get(reverse("draws:json", args=[draw.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    data = response.json()
    assert data["status"] == "revealed" and data["seed"] == draw.seed
    assert data["result"] == draw.result and data["algorithm"] == "jcm-draw-v1"
    numbers = set(Task.objects.filter(draw=draw).values_list("number", flat=True))
    assert {t["task"] for t in data["tasks"]} == numbers
    assert data["plan"]["number"] == w.plan.number


def test_the_json_is_rate_limited(client, w, settings):
    settings.DRAW_JSON_RATE_LIMIT = "2/m"
    draw = draws.commit_draw(w.head, plan=w.plan, enterprise_count=3)
    codes = [client.get(reverse("draws:json", args=[draw.pk])).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_the_verifier_is_served(client):
    response = client.get(reverse("draws:verifier"))
    assert response.status_code == 200
    assert b"".join(response) == SCRIPT.read_bytes()


def test_an_unknown_draw_is_404(client):
    assert client.get("/draws/999/").status_code == 404
    assert client.get("/draws/999.json").status_code == 404


# --- The standalone script on the served JSON ----------------------------------------------------------


def served_json(client, w, tmp_path, **commit):
    draw = draws.commit_draw(w.head, plan=w.plan, **{"enterprise_count": 6, **commit})
    announced = client.get(reverse("draws:json", args=[draw.pk])).json()
    draws.record_conflict(w.head, inspector=w.inspectors[0], enterprise=w.enterprises[0], reason="承诺后发现")
    draws.reveal_draw(w.head, draw=draw, **window())
    path = tmp_path / f"draw-{draw.pk}.json"
    path.write_bytes(client.get(reverse("draws:json", args=[draw.pk])).content)
    return path, announced


def run(path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), str(path), *args], capture_output=True, text=True)


def test_the_script_passes_on_the_real_json(client, w, tmp_path):
    path, announced = served_json(client, w, tmp_path, strata={"A": "0.25", "B": "0.5", "D": "0.25"})
    done = run(path, "--pool-hash", announced["pool_hash"], "--commitment", announced["seed_commitment"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("核验通过")
    assert json.loads(path.read_text())["late_exclusions"]  # the late conflict is part of what it checked


def rewrite(path, change):
    record = json.loads(path.read_text())
    change(record)
    path.write_text(json.dumps(record, ensure_ascii=False))


def test_the_script_fails_when_one_uscc_of_the_published_pool_is_changed(client, w, tmp_path):
    path, _ = served_json(client, w, tmp_path)

    def change(record):
        record["pool"][5][0] = make_uscc(777)
        record["pool"].sort()

    rewrite(path, change)
    done = run(path)
    assert done.returncode == 1
    assert "核验未通过" in done.stdout and "企业库快照散列不符" in done.stdout


def test_the_script_fails_when_the_seed_is_changed(client, w, tmp_path):
    path, _ = served_json(client, w, tmp_path)
    rewrite(path, lambda r: r.__setitem__("seed", r["seed"][::-1]))
    done = run(path)
    assert done.returncode == 1 and "随机种子与承诺值不符" in done.stdout


def test_the_script_fails_when_the_result_is_changed(client, w, tmp_path):
    path, _ = served_json(client, w, tmp_path)

    def change(record):
        drawn = {e["uscc"] for e in record["result"]}
        record["result"][0]["uscc"] = next(u for u, _ in record["pool"] if u not in drawn)

    rewrite(path, change)
    done = run(path)
    assert done.returncode == 1 and "抽取结果第1户不符" in done.stdout


# --- Conflicts register ---------------------------------------------------------------------------------


def test_the_admin_records_a_conflict(client, w):
    client.force_login(w.head)
    url = reverse("draws:conflicts")
    response = client.post(
        url,
        {
            "inspector": w.inspectors[0].pk,
            "enterprise_uscc": w.enterprises[0].uscc,
            "reason": "配偶在该企业任职",
        },
    )
    assert response.status_code == 302
    conflict = ConflictOfInterest.objects.get()
    assert conflict.inspector == w.inspectors[0] and conflict.enterprise == w.enterprises[0]
    assert "配偶在该企业任职" in client.get(url).text
    again = client.post(
        url, {"inspector": w.inspectors[0].pk, "enterprise_uscc": w.enterprises[0].uscc, "reason": "再次"}
    )
    assert "的利益冲突已登记" in again.text


def test_another_bodys_inspector_cannot_be_chosen(client, w):
    client.force_login(w.head)
    response = client.post(
        reverse("draws:conflicts"),
        {"inspector": w.outsider.pk, "enterprise_uscc": w.enterprises[0].uscc, "reason": "x"},
    )
    assert response.status_code == 200 and not ConflictOfInterest.objects.exists()


def test_an_inspector_may_read_but_not_record(client, w):
    client.force_login(w.inspector_user)
    assert client.get(reverse("draws:conflicts")).status_code == 200
    response = client.post(
        reverse("draws:conflicts"),
        {"inspector": w.inspectors[0].pk, "enterprise_uscc": w.enterprises[0].uscc, "reason": "x"},
    )
    assert response.status_code == 403 and not ConflictOfInterest.objects.exists()


def test_the_conflicts_page_needs_a_login(client):
    assert client.get(reverse("draws:conflicts")).status_code == 302


# --- Verifiable means complete: the tasks are exactly one per drawn enterprise, with the drawn inspectors ---


def an_undrawn_uscc(record):
    drawn = {e["uscc"] for e in record["result"]}
    return next(u for u, _ in record["pool"] if u not in drawn)


def test_the_published_tasks_name_the_drawn_enterprises_and_inspectors(client, w, tmp_path):
    path, _ = served_json(client, w, tmp_path)
    record = json.loads(path.read_text())
    assert [(t["uscc"], t["inspectors"]) for t in record["tasks"]] == [
        (e["uscc"], sorted(e["inspectors"])) for e in record["result"]
    ]


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda r: r["tasks"].append({**r["tasks"][0], "task": "X-extra"}), "个任务，应只有一个"),
        (lambda r: r["tasks"].pop(), "没有任务"),
        (lambda r: r["tasks"][0].__setitem__("inspectors", ["XX-000"]), "执法人员为 XX-000"),
        (lambda r: r["tasks"][0].__setitem__("uscc", an_undrawn_uscc(r)), "不是本次抽中的企业"),
        (lambda r: r.pop("tasks"), "缺少任务清单"),
    ],
    ids=["extra-task", "missing-task", "wrong-inspector", "undrawn-enterprise", "no-task-list"],
)
def test_the_script_fails_when_the_tasks_do_not_match_the_draw(client, w, tmp_path, change, message):
    """「已公开的抽取记录所列任务必须每户抽中企业一个、执法人员为抽中的人员」：a record whose tasks name an
    enterprise that was not drawn no longer prints 核验通过."""
    path, _ = served_json(client, w, tmp_path)
    rewrite(path, change)
    done = run(path)
    assert done.returncode == 1, done.stdout
    assert "核验未通过" in done.stdout and message in done.stdout


def test_the_platform_refuses_to_publish_a_record_whose_tasks_do_not_match(client, w, tmp_path):
    served_json(client, w, tmp_path)
    draw = RandomDraw.objects.get()
    task = Task.objects.filter(draw=draw).order_by("number").first()
    task.inspectors.set([w.inspectors[0], w.expired])
    response = client.get(reverse("draws:json", args=[draw.pk]))
    assert response.status_code == 409
    assert "与已创建的任务不一致" in response.content.decode()

"""Run by tests/core/test_replica.py in a process of its own, with DATABASE_URL on a primary and
DATABASE_REPLICA_URL on its streaming replica (both started by the test). Prints one JSON line of what each
step saw; the test asserts on it.

Not a test module (no test_ prefix): it needs settings made from those two URLs before Django starts.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from jianchama.core.roles import Role  # noqa: E402
from jianchama.plans.models import Plan  # noqa: E402
from tests.factories import BodyFactory, FieldFactory, ItemFactory, UserFactory, filed_plan  # noqa: E402


def published(title: str) -> Plan:
    field = FieldFactory(code=f"f{time.monotonic_ns() % 10**8}", name=f"领域{title}")
    body = BodyFactory(name=f"执法单位{title}", fields=[field])
    item = ItemFactory(name=f"事项{title}", field=field, bodies=[body])
    plan = filed_plan(body, items=[item], title=title)
    Plan.objects.filter(pk=plan.pk).update(status=Plan.Status.PUBLISHED, published_at=timezone.now())
    return plan


def replica_has(plan: Plan) -> bool:
    """The plan is on the replica as the public page reads it: published. (Its row is written in one
    transaction and published in the next; a replay paused between the two left a row the page does not
    show, and the test failed now and then.)"""
    with connections["replica"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM plans_plan WHERE id = %s AND status = %s", [plan.pk, Plan.Status.PUBLISHED]
        )
        return cursor.fetchone()[0] == 1


def main() -> None:
    stop_replica = sys.argv[1:]  # the command that stops the replica
    seen = {}
    call_command("migrate", verbosity=0)
    first = published("副本已有的计划")
    reader = UserFactory(role=Role.BODY_ADMIN, body=first.body, username="replica-reader")
    for _ in range(100):  # the replica replays the primary's WAL within moments
        if replica_has(first):
            break
        time.sleep(0.1)
    seen["replica_caught_up"] = replica_has(first)
    with connections["replica"].cursor() as cursor:
        cursor.execute("SELECT pg_wal_replay_pause()")
    second = published("仅主库有的计划")
    time.sleep(0.5)
    seen["replica_lacks_second"] = not replica_has(second)

    anonymous = Client()
    text = anonymous.get("/plans/public/", secure=True).content.decode()
    seen["anonymous"] = {"first": first.title in text, "second": second.title in text}
    # Streamed: the records are read from the replica while the response streams, after the view returned.
    data = json.loads(b"".join(anonymous.get("/plans/public.json", secure=True).streaming_content))
    seen["anonymous_json"] = sorted(p["title"] for p in data["plans"])
    # Open data (its dataset files) and the statistics page read the replica too.
    year = timezone.localdate().year
    data = json.loads(anonymous.get(f"/open-data/plans/{year}.json", secure=True).content)
    seen["open_data"] = sorted(r["title"] for r in data["records"])
    staff = Client()
    staff.force_login(reader)  # its session is on the primary only (the replay is paused)
    response = staff.get("/statistics/", secure=True)
    seen["statistics"] = {"status": response.status_code, "shown": "统计分析" in response.content.decode()}

    # A client that has just written (any POST, here a failed login) reads the primary for a while.
    writer = Client()
    writer.post("/login/", {"username": "nobody", "password": "wrong"}, secure=True)
    seen["writer_cookie"] = "jc_rw" in writer.cookies
    text = writer.get("/plans/public/", secure=True).content.decode()
    seen["writer"] = {"first": first.title in text, "second": second.title in text}

    # The replica stops: the page still answers, from the primary.
    subprocess.run(stop_replica, check=True, capture_output=True)
    response = anonymous.get("/plans/public/", secure=True)
    text = response.content.decode()
    seen["replica_stopped"] = {
        "status": response.status_code,
        "first": first.title in text,
        "second": second.title in text,
    }
    print(json.dumps(seen, ensure_ascii=False))


if __name__ == "__main__":
    main()

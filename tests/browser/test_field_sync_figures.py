"""The field app's figures (issue 15), measured in a real Chromium over localhost and printed (`-s` shows them;
docs/field-app.md and bench/README.md record them): the app shell's size, the time to the first screen offline,
and the time a visit with five phone-size photos takes to sync once the phone is back online. The test asserts
what must be true of the data (every photo arrives whole, one record), never a time.

    make bench-field
"""

from __future__ import annotations

import gzip
import io
import os
import random
import time
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from PIL import Image

from jianchama.inspections.models import Evidence, InspectionRecord, Task
from jianchama.inspections.views.field import SHELL_STATIC
from tests.browser.test_field_app import (
    DOOR_AT,
    ENTERPRISE_AT,
    check_every_entry_compliant,
    go_offline_and_reload,
    open_app,
    wait_until,
)
from tests.browser.test_inspection_code import PHONE_CONTEXT, build_world, notified_task

pytestmark = pytest.mark.django_db(transaction=True)

PHOTOS = 5
# A phone's camera: 12 MP (4000×3000) and 8 MP (3264×2448) JPEGs at quality 85, about 2.7 MB and 1.8 MB.
PHOTO_SIZES = [(4000, 3000), (3264, 2448), (4000, 3000), (3264, 2448), (4000, 3000)]


@pytest.fixture
def w(settings, live_server):
    settings.CODE_BASE_URL = live_server.url
    world = build_world()
    world.enterprise.latitude, world.enterprise.longitude = ENTERPRISE_AT
    world.enterprise.save(update_fields=["latitude", "longitude"])
    return world


def phone_photo(size: tuple[int, int], seed: int) -> bytes:
    """A photo-like JPEG (smooth colour noise, which compresses as a real scene does, not as a flat colour)."""
    w, h = size
    rng = random.Random(seed)
    coarse = Image.frombytes("RGB", (w // 8, h // 8), rng.randbytes(w // 8 * h // 8 * 3))
    out = io.BytesIO()
    coarse.resize(size, Image.BILINEAR).save(out, "JPEG", quality=85)
    return out.getvalue()


def shell_sizes() -> list[tuple[str, int, int]]:
    """Each file the service worker keeps for the shell: its bytes and gzipped bytes."""
    sizes = []
    for name in ["field/sw.js", *SHELL_STATIC]:
        data = Path(finders.find(name)).read_bytes()
        sizes.append((name, len(data), len(gzip.compress(data, 6))))
    return sizes


def test_figures_shell_first_screen_offline_and_a_visit_with_five_photos_synced(w, live_server, browser):
    task = notified_task(w)
    photos = [phone_photo(size, seed) for seed, size in enumerate(PHOTO_SIZES)]
    total = sum(len(p) for p in photos)
    context = browser.new_context(
        **PHONE_CONTEXT, geolocation=DOOR_AT, permissions=["geolocation"], service_workers="allow"
    )
    try:
        page = open_app(context, live_server.url, "inspector-101")
        page_bytes = len(context.request.get(f"{live_server.url}/tasks/field/").body())
        first_screen = go_offline_and_reload(context, page, live_server.url)

        page.get_by_text("签到开始检查").click()
        page.wait_for_selector(".local-state")
        page.get_by_text("录入检查结果").click()
        check_every_entry_compliant(page)
        page.select_option("select[name=outcome]", InspectionRecord.Outcome.NO_PROBLEM)
        page.fill("textarea[name=summary]", "现场核查燃气经营许可证及储罐区，未发现问题")
        page.set_input_files(
            "input[name=photos]",
            files=[
                {"name": f"现场{n + 1}.jpg", "mimeType": "image/jpeg", "buffer": data}
                for n, data in enumerate(photos)
            ],
        )
        wait_until(page, f"document.querySelectorAll('.photo-list img').length === {PHOTOS}")
        page.locator("#result-form button[type=submit]").click()
        wait_until(page, "Number(document.getElementById('waiting').textContent) === 2")

        started = time.perf_counter()
        context.set_offline(False)
        page.evaluate("window.dispatchEvent(new Event('online'))")
        wait_until(page, "Number(document.getElementById('waiting').textContent) === 0", timeout=300)
        synced = time.perf_counter() - started
    finally:
        context.close()

    task = Task.objects.get(pk=task.pk)
    assert task.status == Task.Status.RESULT_RECORDED
    stored = sorted(e.file.size for e in Evidence.objects.filter(record=task.record, kind="photo"))
    assert stored == sorted(len(p) for p in photos)  # every photo whole

    sizes = shell_sizes()
    load = os.getloadavg()
    print(
        "\nfield app figures (Chromium headless, localhost, Django's live server):"
        f"\n  shell: {sum(s for _n, s, _g in sizes) / 1024:.1f} KB in {len(sizes)} files "
        f"({sum(g for _n, _s, g in sizes) / 1024:.1f} KB gzipped) + the page {page_bytes / 1024:.1f} KB: "
        + ", ".join(f"{n.split('/')[-1]} {s / 1024:.1f} KB" for n, s, _g in sizes)
        + f"\n  first screen offline: {first_screen * 1000:.0f} ms"
        f"\n  sync of a visit with {PHOTOS} photos ({total / 1e6:.1f} MB: "
        + ", ".join(f"{len(p) / 1e6:.1f}" for p in photos)
        + f" MB) from going online to all acts accepted: {synced:.2f} s"
        f"\n  load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} CPUs"
    )

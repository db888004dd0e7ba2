"""Every page of every role's menu, in a real Chromium, on a phone (390×844) and a desktop (1280×800).

With the demo data loaded, each demo login visits its home page, its messages and every entry of its menu;
each page must answer below 400, fit the screen (no sideways scrolling), show no raw key (a snake_case code,
a setting's name, an audit action code) in its visible text, and pass axe-core with no serious or critical
violation. On the phone the menu drawer is opened and each entry must be a tap target of at least 44 px that
fits the screen. A screenshot of each page goes to var/screenshots/every-page/ (or $SCREENSHOT_DIR): the
artifact to look at when a page changes.

axe-core is vendored from its npm package (tests/browser/vendor/axe.min.js, not served by the site) and run
through Playwright's evaluate, which the page's Content-Security-Policy does not govern.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client

from jianchama.core.context_processors import menu_for
from jianchama.core.models import User
from jianchama.demo import story

pytestmark = pytest.mark.django_db(transaction=True)

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text(encoding="utf-8")
SCREENSHOTS = Path(
    os.environ.get("SCREENSHOT_DIR", django_settings.BASE_DIR / "var" / "screenshots" / "every-page")
)

VIEWPORTS = {
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 1,
        "is_mobile": True,
        "has_touch": True,
        "locale": "zh-CN",
    },
    "desktop": {"viewport": {"width": 1280, "height": 800}, "locale": "zh-CN"},
}

# What a raw key looks like in visible text: snake_case (outcome no_problem, exempted_by), a setting's name
# (SCAN_AGAIN_DAYS), an audit action code (task.approved).
RAW_KEY = re.compile(
    r"(?<![\w./-])(?:[a-z][a-z0-9]*(?:_[a-z0-9]+)+|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[a-z]+\.[a-z_]+)(?![\w/.-])"
)
# Not raw keys: file names a page offers to download, and domain-like words in addresses.
NOT_A_KEY = re.compile(r"\.(?:py|csv|json|xlsx|pdf|png|html)$|^(?:www|api)\.")

AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 6).map(n => n.target.join(' '))}));
}"""


def logins() -> list[User]:
    """The demo's logins: every staff role, and the enterprise contact."""
    names = [username for username, *_ in story.STAFF_USERS] + [story.CONTACT_USERNAME]
    users = {u.username: u for u in User.objects.filter(username__in=names)}
    only = os.environ.get("EVERY_PAGE_ROLES")  # e.g. "inspector,contact", to look at a few while fixing
    return [users[name] for name in names if not only or name in only.split(",")]


def pages_of(user) -> list[str]:
    """Home, messages, and every menu entry but the Django admin (its own pages, its own style)."""
    urls = ["/", "/notifications/"]
    for group in menu_for(user):
        for entry in group.entries:
            if entry.name != "admin:index" and entry.url not in urls:
                urls.append(entry.url)
    return urls


def raw_keys(text: str) -> list[str]:
    return sorted({m for m in RAW_KEY.findall(text) if not NOT_A_KEY.search(m)})


def session_cookie(user, base_url: str) -> dict:
    client = Client()
    client.force_login(user)
    return {
        "name": django_settings.SESSION_COOKIE_NAME,
        "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
        "url": base_url,
    }


def check_page(page, url: str, shot: Path, problems: list[str], figures: dict) -> None:
    started = time.monotonic()
    response = page.goto(url, wait_until="load")
    loaded = time.monotonic()
    where = f"{shot.stem}"
    if response is None or response.status >= 400:
        problems.append(f"{where}: HTTP {response.status if response else 'no response'}")
        return
    if not page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth"):
        wide = page.evaluate(
            """() => [...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
                .slice(0, 3).map(e => e.tagName.toLowerCase() + '.' + [...e.classList].join('.'))"""
        )
        problems.append(f"{where}: wider than the screen ({', '.join(wide)})")
    keys = raw_keys(page.locator("body").inner_text())
    if keys:
        problems.append(f"{where}: raw keys in the text: {', '.join(keys)}")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE)
    checked = time.monotonic()
    violations = page.evaluate(AXE_RUN)
    axed = time.monotonic()
    figures["axe_pages"] += 1
    figures["axe_serious_or_critical"] += len(violations)
    for v in violations:
        problems.append(f"{where}: axe {v['impact']} {v['id']} ({v['help']}): {'; '.join(v['nodes'])}")
    page.screenshot(path=str(shot), full_page=True)
    figures["timings"].append(
        f"{where}: load {loaded - started:.2f}s checks {checked - loaded:.2f}s axe {axed - checked:.2f}s "
        f"shot {time.monotonic() - axed:.2f}s"
    )


def check_drawer(page, base: str, shot: Path, problems: list[str]) -> None:
    """On the phone: the menu opens without script, and every entry is a whole tap target on the screen."""
    page.goto(f"{base}/")
    page.locator(".drawer > summary").click()
    links = page.locator(".drawer-panel a")
    assert links.count() > 0
    width = page.evaluate("window.innerWidth")
    for i in range(links.count()):
        box = links.nth(i).bounding_box()
        label = links.nth(i).inner_text()
        if box is None or box["height"] < 44 or box["x"] < 0 or box["x"] + box["width"] > width + 1:
            problems.append(f"{shot.stem}: menu entry {label} is not a whole 44 px tap target ({box})")
    page.screenshot(path=str(shot), full_page=False)


def test_every_page_of_every_role_on_a_phone_and_a_desktop(live_server, browser):
    story.load()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    problems: list[str] = []
    figures = {"axe_pages": 0, "axe_serious_or_critical": 0, "timings": []}
    visited = 0
    for user in logins():
        urls = pages_of(user)
        cookie = session_cookie(user, base)
        for kind, options in VIEWPORTS.items():
            context = browser.new_context(**options)
            context.add_cookies([cookie])
            page = context.new_page()
            for url in urls:
                slug = url.strip("/").replace("/", "-") or "home"
                check_page(
                    page, base + url, SCREENSHOTS / f"{user.username}-{kind}-{slug}.png", problems, figures
                )
                visited += 1
            if kind == "phone":
                check_drawer(page, base, SCREENSHOTS / f"{user.username}-phone-menu.png", problems)
            context.close()
    print(
        f"\n{visited} page views, axe on {figures['axe_pages']}: {figures['axe_serious_or_critical']} serious/critical"
    )
    (SCREENSHOTS / "report.txt").write_text("\n".join(problems + [""] + figures["timings"]), encoding="utf-8")
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)


def test_the_raw_key_pattern():
    assert raw_keys("结果：no_problem；规则 exempted_by；SCAN_AGAIN_DAYS；task.approved") == [
        "SCAN_AGAIN_DAYS",
        "exempted_by",
        "no_problem",
        "task.approved",
    ]
    assert raw_keys("下载 verify_draw.py 或 public.csv；2026年12月2日 09:30；JC2026-0001；检查码") == []

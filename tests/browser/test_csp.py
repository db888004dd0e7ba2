"""The Content-Security-Policy in a real Chromium (issue 10, item 9): the watcher every browser test runs
under does see a violation, and the pages' own inline scripts run under the policy (their nonce matches)."""

import pytest
from django.urls import reverse

from jianchama.core.roles import Role
from tests.browser.test_inspection_code import staff_login
from tests.factories import user_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_watcher_sees_a_script_the_policy_refuses(live_server, phone, csp_violations):
    """A page of ours with an inline script without the nonce (injected on the way): Chromium refuses it and
    the watcher records it, so the browser tests would fail on any such page."""

    def inject(route):
        response = route.fetch()
        body = response.text().replace("</body>", "<script>document.title='ran'</script></body>")
        route.fulfill(response=response, body=body)

    phone.route(f"{live_server.url}/login/", inject)
    phone.goto(f"{live_server.url}/login/")
    assert phone.title() != "ran"
    phone.wait_for_timeout(200)
    assert any("inline script" in v and "script-src" in v for v in csp_violations), csp_violations
    csp_violations.clear()  # seen: this test's own violation is the point


def test_a_pages_own_inline_script_runs_under_the_policy(live_server, phone):
    """The run-list page's script (nonce'd) disables the button and says the rules are running."""
    user_for(Role.SUPERVISOR, username="jiandu", full_name="监督员")
    staff_login(phone, live_server.url, "jiandu")
    phone.goto(live_server.url + reverse("supervision:run_list"))
    running = phone.evaluate(
        "() => { const f = document.querySelector('form[data-running]');"
        " f.addEventListener('submit', e => e.preventDefault());"
        " f.requestSubmit(); const b = f.querySelector('button'); return [b.disabled, b.textContent]; }"
    )
    assert running[0] is True and "正在运行" in running[1]

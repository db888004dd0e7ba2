"""One date style on every page (issue 14: 「One date style everywhere (2026年12月2日 on pages; ISO in exports and
APIs)」): no page template formats a date as Y-m-d. Form inputs take ISO dates (the browser's date field), and
exports and APIs write ISO through Python, not through these templates."""

import re
from pathlib import Path

import jianchama

ROOT = Path(jianchama.__file__).parent
ISO_FORMAT = re.compile(r'date:"Y-m-d')


def test_no_page_template_prints_a_date_as_y_m_d():
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in ROOT.rglob("templates/**/*.html")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if ISO_FORMAT.search(line)
    ]
    assert offenders == [], 'dates on pages are written 2026年12月2日 (date:"Y年n月j日")'

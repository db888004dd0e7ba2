"""Helpers for the real headless Chromium tests; the `browser` and `phone` fixtures live in tests/conftest.py
so that one Chromium per test process serves every module that drives pages."""


def fits_screen(page) -> bool:
    """Styled, and no horizontal scrolling: the page is usable on the phone without zooming out."""
    styled = page.evaluate("getComputedStyle(document.querySelector('.topbar')).borderBottomStyle") == "solid"
    return styled and page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")

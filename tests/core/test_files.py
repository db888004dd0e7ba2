"""Storage names (jianchama.core.files.RandomName): random, in the given folder, keeping only a safe
extension, so a stored name says nothing of the letter's number or the upload's name and never makes a
browser run a file it was not meant to."""

from __future__ import annotations

import re

from django.utils import timezone

from jianchama.core.files import RandomName


def test_a_stored_name_is_random_in_its_dated_folder_with_a_safe_extension():
    upload_to = RandomName("evidence/%Y/%m/")
    folder = timezone.now().strftime("evidence/%Y/%m/")
    first, second = upload_to(None, "现场照片.JPG"), upload_to(None, "现场照片.JPG")
    assert re.fullmatch(re.escape(folder) + r"[0-9a-f]{32}\.jpg", first) and first != second
    for name in ("页面.html", "图.svg", "脚本.js", "a.php.png.exe", "无扩展名", "../../etc/passwd", ""):
        stored = upload_to(None, name)
        assert re.fullmatch(re.escape(folder) + r"[0-9a-f]{32}", stored), (name, stored)


def test_it_survives_a_migration():
    path, args, kwargs = RandomName("inspectors/").deconstruct()
    assert path == "jianchama.core.files.RandomName" and args == ("inspectors/",) and not kwargs
    assert RandomName(*args) == RandomName("inspectors/") != RandomName("evidence/")

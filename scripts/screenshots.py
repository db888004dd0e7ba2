"""Screenshots of each demo role's first screen, for comparing two versions of the site (issue 14).

Given a checkout and an output folder, this builds a fresh SQLite database in a temporary folder, loads that
checkout's demo data with that checkout's code, starts its development server on a free port, logs in as
each demo role in headless Chromium and saves the home page after login at 390×844 (phone) and 1280×800
(desktop), viewport only; also the task form as the inspector and the enterprise's portal. The PNGs are
quantized to 256 colours and optimised, to be small enough to commit.

Run, from a checkout whose virtualenv has the dependencies (Django, Playwright, Pillow):
    .venv/bin/python scripts/screenshots.py . docs/screenshots/after
    .venv/bin/python scripts/screenshots.py /tmp/before docs/screenshots/before

Nothing is written into the checkout: keys, media and audit checkpoints go to the temporary folder, which is
removed at the end (--keep keeps it, with the server's log).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from PIL import Image

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [  # as tests/conftest.py launches it
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORTS = {  # as tests/browser/test_every_page.py
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 1,
        "is_mobile": True,
        "has_touch": True,
        "locale": "zh-CN",
    },
    "desktop": {"viewport": {"width": 1280, "height": 800}, "locale": "zh-CN"},
}
# Extra screens beyond each role's home: (login, file name stem, path).
EXTRA_SCREENS = [
    ("inspector", "inspector-task-form", "/tasks/new/"),
    ("contact", "contact-portal", "/portal/"),
]
# The demo's logins, read from the checkout itself (the roles differ between versions).
DEMO_LOGINS = """
import json
from jianchama.demo import story
print("DEMO_LOGINS=" + json.dumps({
    "staff": [username for username, *_ in story.STAFF_USERS],
    "password": story.DEMO_PASSWORD,
    "contact": story.CONTACT_USERNAME,
    "contact_phone": story.CONTACT_PHONE,
}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(checkout: Path, tmp: Path) -> dict[str, str]:
    """The checkout's code first on the path; the database, keys and files in `tmp`; development defaults."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "DJANGO_"))}
    env.update(
        PYTHONPATH=f"{checkout / 'src'}{os.pathsep}{checkout}",
        DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}",  # an absolute path: sqlite:////tmp/...
        DEBUG="1",
        SMS_BACKEND="jianchama.core.sms.ConsoleBackend",  # the login code is read from the server's output
        CODE_SIGNING_KEY_DIR=str(tmp / "keys"),
        AUDIT_CHECKPOINT_KEY_FILE=str(tmp / "audit" / "checkpoint-key.pem"),
        AUDIT_CHECKPOINT_FILE=str(tmp / "audit" / "checkpoints.jsonl"),
        MEDIA_ROOT=str(tmp / "media"),
        PARTITION_ARCHIVE_DIR=str(tmp / "archive"),
        PYTHONUNBUFFERED="1",
    )
    env.pop("SECRET_KEY", None)
    env.pop("CODE_SIGNING_KEY", None)
    return env


def manage(python: str, checkout: Path, env: dict, *args: str) -> str:
    started = time.monotonic()
    done = subprocess.run(
        [python, "manage.py", *args], cwd=checkout, env=env, capture_output=True, text=True, check=False
    )
    shown = " ".join(args).splitlines()[0] if args[0] != "shell" else "shell (the demo's logins)"
    print(f"  manage.py {shown}: {time.monotonic() - started:.1f}s", flush=True)
    if done.returncode != 0:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


@contextmanager
def server(python: str, checkout: Path, env: dict, log: Path):
    port = free_port()
    with log.open("w") as out:
        process = subprocess.Popen(
            [python, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=checkout,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/login/", timeout=2)
                break
            except OSError:
                if process.poll() is not None:
                    sys.exit(f"the server stopped:\n{log.read_text()}")
                time.sleep(0.5)
        else:
            sys.exit(f"the server did not answer:\n{log.read_text()}")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


def save_png(data: bytes, path: Path) -> int:
    """256 colours, optimised: a flat interface's text stays sharp and the file stays small."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    image = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    image.save(path, format="PNG", optimize=True)
    return path.stat().st_size


def sms_code(log: Path, phone: str, after: int) -> str:
    """The latest code the console SMS backend printed for `phone` (after offset `after` of the log)."""
    pattern = re.compile(rf"发往 {phone}：.*?\b(\d{{6}})\b")
    for _ in range(40):
        found = pattern.findall(log.read_text(encoding="utf-8", errors="replace")[after:])
        if found:
            return found[-1]
        time.sleep(0.25)
    sys.exit(f"no SMS code for {phone} in {log}")


def settle(page) -> None:
    page.wait_for_load_state("networkidle")
    page.evaluate("document.fonts.ready")


def log_in(page, base: str, logins: dict, username: str, log: Path) -> None:
    if username == logins["contact"]:
        page.goto(f"{base}/login/phone/")
        page.fill("#id_phone", logins["contact_phone"])
        offset = len(log.read_text(encoding="utf-8", errors="replace"))
        page.click("button[type=submit]")
        page.wait_for_selector("#id_code")
        page.fill("#id_code", sms_code(log, logins["contact_phone"], offset))
    else:
        page.goto(f"{base}/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", logins["password"])
    with page.expect_navigation():
        page.click("button[type=submit]")
    if "/login/" in page.url:
        sys.exit(f"{username} could not log in: {page.locator('body').inner_text()[:500]}")


def shoot(checkout: Path, out: Path, python: str, keep: bool) -> list[tuple[str, int]]:
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="jianchama-shots-"))
    env = environment(checkout, tmp)
    out.mkdir(parents=True, exist_ok=True)
    made: list[tuple[str, int]] = []
    try:
        print(f"{checkout}: a fresh database in {tmp}", flush=True)
        manage(python, checkout, env, "migrate", "--noinput")
        manage(python, checkout, env, "rotate_signing_key", "--if-missing")
        manage(python, checkout, env, "audit_checkpoint_key", "--if-missing")
        manage(python, checkout, env, "load_demo")
        found = re.search(
            r"^DEMO_LOGINS=(.*)$", manage(python, checkout, env, "shell", "-c", DEMO_LOGINS), re.M
        )
        logins = json.loads(found.group(1))
        log = tmp / "server.log"
        with server(python, checkout, env, log) as base, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for username in [*logins["staff"], logins["contact"]]:
                cookies = None
                for kind, options in VIEWPORTS.items():
                    context = browser.new_context(**options)
                    page = context.new_page()
                    if cookies is None:  # one login per role, its session shared by both screens
                        log_in(page, base, logins, username, log)
                        cookies = context.cookies()
                    else:
                        context.add_cookies(cookies)
                    screens = [(username, "/")] + [(s, p) for u, s, p in EXTRA_SCREENS if u == username]
                    shot: dict[str, str] = {}  # final URL → file: a page the home redirects to is saved once
                    for stem, path in screens:
                        page.goto(base + path)
                        settle(page)
                        name, where = f"{stem}-{kind}.png", page.url.removeprefix(base)
                        if where in shot:
                            (out / name).unlink(missing_ok=True)
                            print(f"  {name}: {where} is {shot[where]}", flush=True)
                            continue
                        shot[where] = name
                        made.append((name, save_png(page.screenshot(full_page=False), out / name)))
                        print(f"  {name}: {where} {made[-1][1] // 1024} KB", flush=True)
                    context.close()
            browser.close()
    finally:
        if keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkout", type=Path, help="the project's folder whose code and demo data to show")
    parser.add_argument("out", type=Path, help="where the PNGs go (e.g. docs/screenshots/after)")
    parser.add_argument("--python", default=sys.executable, help="the Python with the dependencies")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (database, log)")
    args = parser.parse_args()
    made = shoot(args.checkout.resolve(), args.out.resolve(), args.python, args.keep)
    sizes = [size for _, size in made]
    print(f"{len(made)} PNGs, largest {max(sizes) // 1024} KB, total {sum(sizes) // 1024} KB")


if __name__ == "__main__":
    main()

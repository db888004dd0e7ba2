"""A real government app for the webhook tests, and a way to run queued jobs as the django-q worker does."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing import Event, Queue, Value

import pytest

WEBHOOK_SECRET = "test-webhook-secret"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body.decode("utf-8"))


@dataclass
class GovApp:
    """Answers each POST with the next queued status (then `default_status`), after `delay` seconds."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    statuses: deque[int] = field(default_factory=deque)
    default_status: int = 200
    delay: float = 0.0


def _handler_for(app: GovApp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            app.requests.append(Received(self.path, dict(self.headers.items()), body))
            if app.delay:
                time.sleep(app.delay)
            status = app.statuses.popleft() if app.statuses else app.default_status
            reply = b'{"ok":true}' if status < 300 else "服务暂不可用".encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (the timeout test)

        def log_message(self, format, *args):
            pass

    return Handler


@pytest.fixture
def no_proxy(monkeypatch):
    # urllib honours proxy variables; the test server is local and must be reached directly.
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def webhook_settings(settings, no_proxy):
    settings.GOV_APP_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.WEBHOOK_TIMEOUT_SECONDS = 2
    settings.WEBHOOK_MAX_ATTEMPTS = 4
    settings.WEBHOOK_BACKOFF_SECONDS = 30
    return settings


@pytest.fixture
def gov_app(webhook_settings):
    app = GovApp()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(app))
    app.url = f"http://127.0.0.1:{server.server_address[1]}/jianchama/webhook"
    webhook_settings.GOV_APP_WEBHOOK_URL = app.url
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app
    server.shutdown()
    server.server_close()


@pytest.fixture
def no_webhook(settings):
    settings.GOV_APP_WEBHOOK_URL = ""


def run_queued_jobs() -> int:
    """Take every job off the ORM broker and run it through django-q's own pusher, worker and monitor
    (in this process), exactly as `qcluster` would. Returns how many jobs ran."""
    from django_q.brokers import get_broker
    from django_q.monitor import monitor
    from django_q.pusher import pusher
    from django_q.worker import worker

    broker = get_broker()
    task_queue, result_queue = Queue(), Queue()
    stop = Event()
    stop.set()  # the pusher makes one pass per call
    count = 0
    while broker.queue_size():
        pusher(task_queue, stop, broker=broker)
        count += 1
    task_queue.put("STOP")
    worker(task_queue, result_queue, Value("f", -1))
    result_queue.put("STOP")
    monitor(result_queue, broker=broker)
    return count


def run_scheduler() -> None:
    """One pass of django-q's scheduler: due schedules become queued jobs."""
    from django_q.brokers import get_broker
    from django_q.scheduler import scheduler

    scheduler(broker=get_broker())

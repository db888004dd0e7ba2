"""A body's own enforcement system, connected to the inspection-code platform (对接使用, docs/api.md).

Stand-alone: it needs only `httpx` and the Python standard library, not the platform's code. It does what a
body's system does through /api/v1/: create a task, submit it (the frequency check answers as on the page),
approve it, fetch the inspection code (token, URL, QR as SVG and PNG) for its own app, check in, record the
result with a photo, close the task; and it receives the platform's events on a small HTTP server of its
own, refusing any whose signature or timestamp does not verify.

    python examples/body_system/client.py --platform https://jcm.example.gov.cn --key jck_… \\
        --uscc 913101… --certificate 31011600100 --item JS-001 --plan … --hook-port 8765

The platform must reach the hook's address (`--hook-url`, by default http://127.0.0.1:<port>/hook, which
only a platform on the same machine can).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import hmac
import http.server
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

REPLAY_WINDOW_SECONDS = 300


class ApiError(Exception):
    """A problem (RFC 9457) the platform answered: its status, machine type, Chinese title and detail."""

    def __init__(self, status: int, problem: dict[str, Any]):
        self.status, self.problem = status, problem
        self.type = problem.get("type", "")
        super().__init__(f"{status} {problem.get('title', '')}：{problem.get('detail', '')}")


class BodySystem:
    """The platform's API as a body's system calls it: one key, one client, an Idempotency-Key per POST
    (a retry after a timeout never makes two tasks)."""

    def __init__(self, platform: str, key: str, *, timeout: float = 30):
        self.http = httpx.Client(
            base_url=platform.rstrip("/") + "/api/v1",
            headers={"Authorization": f"Bearer {key}"},
            timeout=timeout,
        )

    def close(self) -> None:
        self.http.close()

    def _answer(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"title": response.reason_phrase, "detail": response.text[:200]}
            raise ApiError(response.status_code, problem)
        return response.json() if response.content else None

    def get(self, path: str, **params: Any) -> Any:
        return self._answer(self.http.get(path, params=params))

    def post(self, path: str, body: dict | None = None, *, key: str | None = None) -> Any:
        headers = {"Idempotency-Key": key or str(uuid.uuid4())}
        return self._answer(self.http.post(path, json=body if body is not None else {}, headers=headers))

    # --- The story ------------------------------------------------------------------------------------

    def create_task(self, **fields: Any) -> dict:
        return self.post("/tasks", fields)

    def submit(self, number: str, justification: str = "") -> dict:
        return self.post(f"/tasks/{number}/submit", {"justification": justification} if justification else {})

    def approve(self, number: str) -> dict:
        return self.post(f"/tasks/{number}/approve")

    def code(self, number: str, certificate: str) -> dict:
        return self.get(f"/tasks/{number}/code", inspector_certificate=certificate)

    def check_in(self, number: str, certificate: str, occurred_at: datetime.datetime | None = None) -> dict:
        body = {"inspector_certificate": certificate}
        if occurred_at is not None:
            body["occurred_at"] = occurred_at.isoformat()
        return self.post(f"/tasks/{number}/check-in", body)

    def record_result(self, number: str, result: dict, photos: list[tuple[str, bytes, str]]) -> dict:
        """The result as the form `data` (JSON) with the evidence files (name, content, type)."""
        files = [("evidence", photo) for photo in photos]
        response = self.http.post(
            f"/tasks/{number}/result",
            data={"data": json.dumps(result, ensure_ascii=False)},
            files=files,
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        return self._answer(response)

    def close_task(self, number: str) -> dict:
        return self.post(f"/tasks/{number}/close")

    def tasks(self, **filters: Any):
        """Every task matching the filters, page after page by cursor."""
        cursor = None
        while True:
            page = self.get("/tasks", **filters, **({"cursor": cursor} if cursor else {}))
            yield from page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def register_webhook(self, url: str, events: list[str]) -> dict:
        """The webhook and its signing secret, which the platform shows this once."""
        return self.post("/webhooks", {"url": url, "events": events})


# --- Receiving the platform's events ------------------------------------------------------------------


def verify(secret: str, headers, body: bytes, now: float | None = None) -> bool:
    """The signature check of docs/api.md: HMAC-SHA256 over "<timestamp>." + body, within five minutes."""
    timestamp = headers.get("X-Jianchama-Timestamp", "")
    if not timestamp.isdigit() or abs((now or time.time()) - int(timestamp)) > REPLAY_WINDOW_SECONDS:
        return False
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers.get("X-Jianchama-Signature", ""), "sha256=" + mac)


@dataclass
class Receiver:
    """A local HTTP server taking the platform's events: verified ones are kept (once per delivery id, as
    the platform delivers at least once), others answered 401 and counted."""

    port: int = 0
    secret: str = ""
    events: list[dict] = field(default_factory=list)
    refused: int = 0

    def __post_init__(self):
        receiver = self
        seen: set[str] = set()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if not receiver.secret or not verify(receiver.secret, self.headers, body):
                    receiver.refused += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                delivery = self.headers.get("X-Jianchama-Delivery", "")
                if delivery not in seen:
                    seen.add(delivery)
                    receiver.events.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--platform", required=True, help="the platform's origin, e.g. https://jcm.example.gov.cn"
    )
    parser.add_argument("--key", required=True, help="the API client's key (jck_…)")
    parser.add_argument("--uscc", required=True, help="the enterprise's unified social credit code")
    parser.add_argument(
        "--certificate", required=True, action="append", help="an inspector's certificate number"
    )
    parser.add_argument("--item", required=True, action="append", help="an inspection item's code")
    parser.add_argument("--plan", default="", help="the filed plan's number, if the visit is planned")
    parser.add_argument("--legal-basis", default="《行政检查办法》")
    parser.add_argument("--hook-port", type=int, default=0)
    args = parser.parse_args()
    system = BodySystem(args.platform, args.key)
    receiver = Receiver(port=args.hook_port)
    try:
        receiver.secret = system.register_webhook(receiver.url, ["task.status_changed", "result.recorded"])[
            "secret"
        ]
        today = datetime.date.today()
        task = system.create_task(
            enterprise_uscc=args.uscc,
            kind="routine",
            item_codes=args.item,
            inspector_certificates=args.certificate,
            legal_basis=args.legal_basis,
            window_start=today.isoformat(),
            window_end=(today + datetime.timedelta(days=5)).isoformat(),
            **({"plan_number": args.plan} if args.plan else {}),
        )
        number = task["number"]
        print("任务", number, system.submit(number)["status"], system.approve(number)["status"])
        print("检查码", system.code(number, args.certificate[0])["url"])
        print("签到", system.check_in(number, args.certificate[0])["status"])
        time.sleep(2)
        print("收到事件", [(e["event"], e["data"].get("to")) for e in receiver.events])
    except ApiError as error:
        raise SystemExit(f"平台拒绝：{error}") from error
    finally:
        receiver.stop()
        system.close()


if __name__ == "__main__":
    main()

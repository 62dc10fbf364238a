"""The notifier: webhook to a local HTTP server, e-mail to a local SMTP server (both started here on
127.0.0.1), retries with backoff, undeliverable messages logged without raising and without losing
the next one, and no secret in the log file."""

import json
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from dagster import EnvVar, build_resources

from retailmart_dagster.resources.notifier import (
    Notification,
    NotifierResource,
    notifier_from_env,
    read_log,
    redact_urls,
    summarize,
)

WEBHOOK_TOKEN = "T000/B000/s3cr3t-webhook-token"
SMTP_PASSWORD = "smtp-pa55word-never-logged"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebhookServer:
    """A local HTTP server that records JSON POSTs; the first ``fail_next`` requests get HTTP 500."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.fail_next = 0
        self.requests = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                owner.requests += 1
                if owner.fail_next > 0:
                    owner.fail_next -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                owner.bodies.append(
                    {
                        "path": self.path,
                        "content_type": self.headers.get("Content-Type"),
                        "json": json.loads(body),
                    }
                )
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/services/{WEBHOOK_TOKEN}"

    def __enter__(self) -> "WebhookServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class Inbox:
    """aiosmtpd handler: stores messages; refuses recipients while ``refuse`` is set."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.refuse = False

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001, ANN201, N802
        if self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        self.messages.append(
            {
                "from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "message": message_from_bytes(envelope.content),
                "login": getattr(session, "login_data", None),
            }
        )
        return "250 Message accepted"


def _authenticator(server, session, envelope, mechanism, auth_data):  # noqa: ANN001, ANN201
    ok = isinstance(auth_data, LoginPassword) and (
        auth_data.login == b"alerts" and auth_data.password == SMTP_PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticator,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _notifier(tmp_path: Path, **kwargs: object) -> NotifierResource:
    settings = {
        "log_path": str(tmp_path / "notifications.log"),
        "max_attempts": 3,
        "backoff_seconds": 0.01,
        "timeout_seconds": 5.0,
        **kwargs,
    }
    return NotifierResource(**settings)


NOTE = Notification(
    title="2 data-quality checks failed",
    text="- [ERROR] consistency_orphan_orders on retailmart/sales/orders: 3 rows",
    severity="error",
    kind="check_failure",
    details={"run_id": "abc"},
)


def test_log_file_is_always_written(tmp_path: Path) -> None:
    notifier = _notifier(tmp_path)
    assert notifier.channels() == []
    result = notifier.notify(NOTE)
    assert result.delivered and result.deliveries == ()
    [entry] = read_log(tmp_path / "notifications.log")
    assert entry["title"] == NOTE.title and entry["kind"] == "check_failure"
    assert entry["severity"] == "error" and entry["details"] == {"run_id": "abc"}


def test_webhook_posts_slack_compatible_json(tmp_path: Path) -> None:
    with WebhookServer() as server:
        notifier = _notifier(tmp_path, webhook_url=server.url)
        result = notifier.notify(NOTE)
    assert result.delivered
    [body] = server.bodies
    assert body["content_type"].startswith("application/json")
    assert set(body["json"]) == {"text"}
    assert body["json"]["text"].startswith("[ERROR] 2 data-quality checks failed\n- [ERROR]")
    entry = read_log(tmp_path / "notifications.log")[0]
    assert entry["channels"] == {"webhook": "delivered"}


def test_webhook_retries_with_backoff_then_delivers(tmp_path: Path) -> None:
    with WebhookServer() as server:
        server.fail_next = 2
        result = _notifier(tmp_path, webhook_url=server.url).notify(NOTE)
    assert result.delivered
    assert result.deliveries[0].attempts == 3
    assert server.requests == 3 and len(server.bodies) == 1


def test_undeliverable_webhook_is_logged_and_does_not_lose_the_next(tmp_path: Path) -> None:
    with WebhookServer() as server:
        notifier = _notifier(tmp_path, webhook_url=server.url)
        server.fail_next = 3  # every attempt of the first notification fails
        first = notifier.notify(NOTE)
        second = notifier.notify(Notification(title="next one", text="delivered", severity="info"))
    assert not first.delivered and first.failed_channels == ["webhook"]
    assert first.deliveries[0].attempts == 3
    assert "HTTP 500" in (first.deliveries[0].error or "")
    assert second.delivered
    assert [b["json"]["text"] for b in server.bodies] == ["[INFO] next one\ndelivered"]
    entries = read_log(tmp_path / "notifications.log")
    assert [e["title"] for e in entries] == [NOTE.title, "next one"]
    assert entries[0]["channels"]["webhook"].startswith("undeliverable after 3 attempt(s)")
    assert entries[1]["channels"] == {"webhook": "delivered"}


def test_unreachable_webhook_never_raises_and_hides_the_token(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}/services/{WEBHOOK_TOKEN}"  # nothing listens there
    notifier = _notifier(tmp_path, webhook_url=url, max_attempts=2)
    result = notifier.notify(NOTE)
    assert not result.delivered and result.deliveries[0].attempts == 2
    text = (tmp_path / "notifications.log").read_text()
    assert "undeliverable" in text
    assert WEBHOOK_TOKEN not in text and "s3cr3t" not in text
    assert WEBHOOK_TOKEN not in (result.deliveries[0].error or "")


def test_client_error_is_not_retried(tmp_path: Path) -> None:
    class NotFound(BaseHTTPRequestHandler):
        calls = 0

        def do_POST(self) -> None:  # noqa: N802
            NotFound.calls += 1
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        result = _notifier(tmp_path, webhook_url=url).notify(NOTE)
    finally:
        server.shutdown()
        server.server_close()
    assert not result.delivered and NotFound.calls == 1
    assert "HTTP 404" in (result.deliveries[0].error or "")


def test_email_over_smtp_with_login(tmp_path: Path, smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    notifier = _notifier(
        tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security="none",
        smtp_user="alerts",
        smtp_password=SMTP_PASSWORD,
        email_from="retailmart@example.com",
        email_to="ops@example.com, lead@example.com",
    )
    result = notifier.notify(NOTE)
    assert result.delivered, result.deliveries
    [mail] = inbox.messages
    assert mail["from"] == "retailmart@example.com"
    assert sorted(mail["to"]) == ["lead@example.com", "ops@example.com"]
    assert mail["message"]["Subject"] == "[RetailMart ERROR] 2 data-quality checks failed"
    assert "consistency_orphan_orders" in mail["message"].get_payload()
    assert SMTP_PASSWORD not in (tmp_path / "notifications.log").read_text()


def test_refused_email_is_retried_logged_and_next_delivered(
    tmp_path: Path, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, port = smtp_server
    notifier = _notifier(
        tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security="none",
        email_to="ops@example.com",
    )
    inbox.refuse = True
    refused = notifier.notify(NOTE)
    inbox.refuse = False
    delivered = notifier.notify(Notification(title="after the refusal", text="ok"))
    assert not refused.delivered and refused.deliveries[0].attempts == 3
    assert "SMTPRecipientsRefused" in (refused.deliveries[0].error or "")
    assert delivered.delivered
    assert [m["message"]["Subject"] for m in inbox.messages] == [
        "[RetailMart WARNING] after the refusal"
    ]


def test_wrong_smtp_password_is_undeliverable_and_not_logged(
    tmp_path: Path, smtp_server: tuple[Inbox, int]
) -> None:
    _, port = smtp_server
    wrong = "wr0ng-pa55word"
    notifier = _notifier(
        tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security="none",
        smtp_user="alerts",
        smtp_password=wrong,
        email_to="ops@example.com",
        max_attempts=1,
    )
    result = notifier.notify(NOTE)
    assert not result.delivered
    assert wrong not in (tmp_path / "notifications.log").read_text()


def test_both_channels_and_one_failing(tmp_path: Path, smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    url = f"http://127.0.0.1:{_free_port()}/hook"  # down
    notifier = _notifier(
        tmp_path,
        webhook_url=url,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security="none",
        email_to="ops@example.com",
        max_attempts=1,
    )
    result = notifier.notify(NOTE)
    assert result.failed_channels == ["webhook"]
    assert len(inbox.messages) == 1
    entry = read_log(tmp_path / "notifications.log")[0]
    assert entry["channels"]["email"] == "delivered"
    assert entry["channels"]["webhook"].startswith("undeliverable")


def test_secrets_come_from_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "RETAILMART_WEBHOOK_URL": "https://hooks.example.com/services/" + WEBHOOK_TOKEN,
        "RETAILMART_SMTP_HOST": "smtp.example.com",
        "RETAILMART_SMTP_PORT": "2525",
        "RETAILMART_SMTP_PASSWORD": SMTP_PASSWORD,
        "RETAILMART_NOTIFY_EMAIL_TO": "ops@example.com",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    notifier = notifier_from_env(env)
    # Passed as EnvVar: the Dagster UI and run config show the variable's name, never its value.
    assert notifier.webhook_url == EnvVar("RETAILMART_WEBHOOK_URL")
    config = notifier.get_resource_definition().config_schema.default_value
    dumped = json.dumps(config, default=str)
    assert WEBHOOK_TOKEN not in dumped and SMTP_PASSWORD not in dumped
    assert "RETAILMART_WEBHOOK_URL" in dumped and "RETAILMART_SMTP_PASSWORD" in dumped
    with build_resources({"notifier": notifier}) as resources:
        resolved = resources.notifier
    assert resolved.webhook_url == env["RETAILMART_WEBHOOK_URL"]
    assert resolved.smtp_port == 2525
    assert resolved.channels() == ["webhook", "email"]
    assert notifier_from_env({}).channels() == []


def test_redaction() -> None:
    notifier = NotifierResource(
        log_path="/dev/null",
        webhook_url="https://hooks.example.com/services/" + WEBHOOK_TOKEN,
        smtp_password=SMTP_PASSWORD,
    )
    text = (
        f"failed posting to https://hooks.example.com/services/{WEBHOOK_TOKEN} with "
        f"{SMTP_PASSWORD} on postgresql://user:dbpass@host:5432/db"
    )
    out = notifier.redact(text)
    assert WEBHOOK_TOKEN not in out and SMTP_PASSWORD not in out and "dbpass" not in out
    assert "postgresql://user:***@host" in out
    assert redact_urls("postgresql://u:p@h/db") == "postgresql://u:***@h/db"
    assert summarize(["a", "b", "c"], 2, "more") == "a\nb\n… and 1 more"

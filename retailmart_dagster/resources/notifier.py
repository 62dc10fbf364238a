"""Notifications: a log file (always on), a generic webhook (Slack-compatible JSON POST) and e-mail
over SMTP, configured by environment variables.

Secrets (the webhook URL, which carries its token, and the SMTP password) come only from environment
variables through ``EnvVar`` (see ``notifier_from_env``), so the Dagster UI shows the variable's name,
never its value; every text this module writes (log file, Dagster log, delivery errors) is redacted.

Delivery never raises: each channel is tried ``max_attempts`` times with exponential backoff; a
notification that still cannot be delivered is recorded as undeliverable in the log file and the
Dagster log, and the caller (a sensor) carries on, so neither the pipeline nor a sensor's cursor is
affected by a webhook that is down or an SMTP server that refuses.

| variable | meaning |
|---|---|
| ``RETAILMART_NOTIFY_LOG`` | the log file (JSON lines); default ``$RETAILMART_HOME/notifications.log`` |
| ``RETAILMART_WEBHOOK_URL`` | webhook URL (secret); unset = no webhook |
| ``RETAILMART_SMTP_HOST`` / ``RETAILMART_SMTP_PORT`` | SMTP server; unset host = no e-mail; port 587 |
| ``RETAILMART_SMTP_SECURITY`` | ``starttls`` (default), ``ssl`` or ``none`` |
| ``RETAILMART_SMTP_USER`` / ``RETAILMART_SMTP_PASSWORD`` | SMTP login (the password is a secret) |
| ``RETAILMART_NOTIFY_EMAIL_FROM`` / ``RETAILMART_NOTIFY_EMAIL_TO`` | sender; recipients (comma-separated) |
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import smtplib
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from dagster import ConfigurableResource, EnvVar
from pydantic import Field

from retailmart_dagster.config import config_value
from retailmart_dagster.resources.embedded import default_home

LOG_PATH_ENV = "RETAILMART_NOTIFY_LOG"
WEBHOOK_URL_ENV = "RETAILMART_WEBHOOK_URL"
SMTP_HOST_ENV = "RETAILMART_SMTP_HOST"
SMTP_PORT_ENV = "RETAILMART_SMTP_PORT"
SMTP_SECURITY_ENV = "RETAILMART_SMTP_SECURITY"
SMTP_USER_ENV = "RETAILMART_SMTP_USER"
SMTP_PASSWORD_ENV = "RETAILMART_SMTP_PASSWORD"
EMAIL_FROM_ENV = "RETAILMART_NOTIFY_EMAIL_FROM"
EMAIL_TO_ENV = "RETAILMART_NOTIFY_EMAIL_TO"
DEFAULT_LOG_NAME = "notifications.log"
SEVERITIES = ("critical", "error", "warning", "info")
SMTP_SECURITY = ("starttls", "ssl", "none")

_log = logging.getLogger("retailmart_dagster.notifier")
_write_lock = threading.Lock()
# user:password@ in any URL of a message (e.g. a database URL inside an error).
_URL_CREDENTIALS = re.compile(r"(://[^:/@\s]+):[^@\s]*@")


class NotificationError(RuntimeError):
    """One delivery attempt failed; ``retry`` says whether another attempt may succeed."""

    def __init__(self, message: str, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry


@dataclass(frozen=True)
class Notification:
    """What is sent: a title, a body (plain text), a severity and the kind of event."""

    title: str
    text: str
    severity: str = "warning"
    kind: str = "notice"
    details: dict[str, Any] = field(default_factory=dict)

    def message(self) -> str:
        return f"[{self.severity.upper()}] {self.title}\n{self.text}".strip()


@dataclass(frozen=True)
class Delivery:
    """The outcome of one channel for one notification."""

    channel: str
    delivered: bool
    attempts: int
    error: str | None = None


@dataclass(frozen=True)
class NotifyResult:
    notification: Notification
    deliveries: tuple[Delivery, ...]

    @property
    def delivered(self) -> bool:
        """Every enabled channel delivered it (the log file is always written, when it can be)."""
        return all(d.delivered for d in self.deliveries)

    @property
    def failed_channels(self) -> list[str]:
        return [d.channel for d in self.deliveries if not d.delivered]


def _default_attempts() -> int:
    return max(1, int(config_value("notifications.max_attempts")))


def _default_backoff() -> float:
    return float(config_value("notifications.backoff_seconds"))


def _default_timeout() -> float:
    return float(config_value("notifications.timeout_seconds"))


def default_log_path() -> str:
    return os.environ.get(LOG_PATH_ENV) or str(default_home() / DEFAULT_LOG_NAME)


class NotifierResource(ConfigurableResource):
    """Sends notifications to the log file (always) and to the webhook and e-mail when configured.

    Build it with ``notifier_from_env()`` so secrets stay environment variables (``EnvVar``).
    """

    log_path: str = Field(
        default_factory=default_log_path,
        description=f"Log file of every notification, JSON lines (${LOG_PATH_ENV}; default "
        f"$RETAILMART_HOME/{DEFAULT_LOG_NAME}). Always on.",
    )
    webhook_url: str | None = Field(
        default=None,
        description=f"Webhook receiving a Slack-compatible JSON POST {{'text': ...}} "
        f"(${WEBHOOK_URL_ENV}, a secret: set it through the environment only). Unset = off.",
    )
    smtp_host: str | None = Field(
        default=None, description=f"SMTP server (${SMTP_HOST_ENV}). Unset = no e-mail."
    )
    smtp_port: int = Field(default=587, description=f"SMTP port (${SMTP_PORT_ENV}).")
    smtp_security: str = Field(
        default="starttls",
        description=f"starttls, ssl or none (${SMTP_SECURITY_ENV}).",
    )
    smtp_user: str | None = Field(default=None, description=f"SMTP login (${SMTP_USER_ENV}).")
    smtp_password: str | None = Field(
        default=None,
        description=f"SMTP password (${SMTP_PASSWORD_ENV}, a secret: environment only).",
    )
    email_from: str | None = Field(
        default=None, description=f"Sender address (${EMAIL_FROM_ENV}; default the SMTP login)."
    )
    email_to: str | None = Field(
        default=None, description=f"Recipients, comma-separated (${EMAIL_TO_ENV})."
    )
    max_attempts: int = Field(
        default_factory=_default_attempts,
        description="Attempts per channel (config notifications.max_attempts).",
    )
    backoff_seconds: float = Field(
        default_factory=_default_backoff,
        description="Wait before the 2nd attempt, doubled each time (notifications.backoff_seconds).",
    )
    timeout_seconds: float = Field(
        default_factory=_default_timeout,
        description="Network timeout per attempt (notifications.timeout_seconds).",
    )

    # ------------------------------------------------------------------ channels enabled
    @property
    def webhook_enabled(self) -> bool:
        return bool(self.webhook_url)

    @property
    def email_enabled(self) -> bool:
        return bool(self.smtp_host and self.recipients())

    def recipients(self) -> list[str]:
        return [a.strip() for a in (self.email_to or "").split(",") if a.strip()]

    def channels(self) -> list[str]:
        """Enabled channels besides the log file, in delivery order."""
        return [
            name
            for name, on in (("webhook", self.webhook_enabled), ("email", self.email_enabled))
            if on
        ]

    # ------------------------------------------------------------------ redaction
    def redact(self, text: str) -> str:
        """text without the secrets: the webhook URL (and its path), the SMTP password, and any
        password inside a URL."""
        if not text:
            return text
        out = text
        for secret in self._secrets():
            out = out.replace(secret, "***")
        return _URL_CREDENTIALS.sub(r"\1:***@", out)

    def _secrets(self) -> list[str]:
        secrets = []
        if self.smtp_password:
            secrets.append(self.smtp_password)
        if self.webhook_url:
            secrets.append(self.webhook_url)
            path = self.webhook_url.split("://", 1)[-1].partition("/")[2]
            if len(path) >= 6:
                secrets.append(path)
        return sorted(secrets, key=len, reverse=True)

    def _webhook_label(self) -> str:
        """The webhook as it may be shown: scheme and host, never the path (the token)."""
        if not self.webhook_url:
            return "webhook"
        scheme, _, rest = self.webhook_url.partition("://")
        host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
        return f"webhook {scheme}://{host}/***"

    # ------------------------------------------------------------------ sending
    def notify(
        self, notification: Notification, logger: logging.Logger | Any | None = None
    ) -> NotifyResult:
        """Deliver to every enabled channel; never raises. The log file records the notification
        and the outcome of each channel."""
        log = logger or _log
        deliveries: list[Delivery] = []
        senders: dict[str, Callable[[Notification], None]] = {
            "webhook": self._send_webhook,
            "email": self._send_email,
        }
        for channel in self.channels():
            deliveries.append(self._deliver(channel, senders[channel], notification, log))
        result = NotifyResult(notification=notification, deliveries=tuple(deliveries))
        self._write_log(result, log)
        for d in result.deliveries:
            if not d.delivered:
                log.warning(
                    self.redact(
                        f"Notification '{notification.title}' could not be delivered by "
                        f"{d.channel} after {d.attempts} attempt(s): {d.error}. It is recorded in "
                        f"{self.log_path}."
                    )
                )
        return result

    def _deliver(
        self,
        channel: str,
        send: Callable[[Notification], None],
        notification: Notification,
        log: Any,
    ) -> Delivery:
        attempts = max(1, int(self.max_attempts))
        error = None
        for attempt in range(1, attempts + 1):
            try:
                send(notification)
                return Delivery(channel=channel, delivered=True, attempts=attempt)
            except Exception as exc:  # noqa: BLE001 - any failure is a failed attempt
                error = self.redact(f"{type(exc).__name__}: {exc}")
                retry = not isinstance(exc, NotificationError) or exc.retry
                if attempt == attempts or not retry:
                    return Delivery(channel=channel, delivered=False, attempts=attempt, error=error)
                wait = max(0.0, float(self.backoff_seconds)) * (2 ** (attempt - 1))
                log.info(
                    f"{channel} delivery attempt {attempt}/{attempts} failed ({error}); "
                    f"retrying in {wait:g}s"
                )
                time.sleep(wait)
        return Delivery(channel=channel, delivered=False, attempts=attempts, error=error)

    def _send_webhook(self, notification: Notification) -> None:
        body = json.dumps({"text": notification.message()}, ensure_ascii=False).encode()
        request = urllib.request.Request(
            str(self.webhook_url),
            data=body,
            method="POST",
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        try:
            with urllib.request.urlopen(request, timeout=float(self.timeout_seconds)) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            # 429 and 5xx may pass later; other 4xx are a wrong URL or payload: do not insist.
            raise NotificationError(
                f"{self._webhook_label()} answered HTTP {exc.code}",
                retry=exc.code == 429 or exc.code >= 500,
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise NotificationError(f"{self._webhook_label()} unreachable: {reason}") from None
        if not 200 <= status < 300:
            raise NotificationError(f"{self._webhook_label()} answered HTTP {status}")

    def _send_email(self, notification: Notification) -> None:
        security = (self.smtp_security or "starttls").lower()
        if security not in SMTP_SECURITY:
            raise NotificationError(
                f"{SMTP_SECURITY_ENV}={security!r}: use one of {', '.join(SMTP_SECURITY)}",
                retry=False,
            )
        message = EmailMessage()
        message["Subject"] = f"[RetailMart {notification.severity.upper()}] {notification.title}"
        message["From"] = self.email_from or self.smtp_user or "retailmart@localhost"
        message["To"] = ", ".join(self.recipients())
        message.set_content(notification.text or notification.title)
        host, port, timeout = str(self.smtp_host), int(self.smtp_port), float(self.timeout_seconds)
        client: smtplib.SMTP
        if security == "ssl":
            client = smtplib.SMTP_SSL(
                host, port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
        try:
            client.ehlo()
            if security == "starttls":
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            if self.smtp_user:
                client.login(self.smtp_user, self.smtp_password or "")
            refused = client.send_message(message)
        finally:
            try:
                client.quit()
            except Exception:  # noqa: BLE001 - the server may already have closed
                client.close()
        if refused:
            raise NotificationError(f"SMTP server refused recipient(s) {sorted(refused)}")

    def _write_log(self, result: NotifyResult, log: Any) -> None:
        n = result.notification
        entry = {
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "kind": n.kind,
            "severity": n.severity,
            "title": self.redact(n.title),
            "text": self.redact(n.text),
            "details": json.loads(self.redact(json.dumps(n.details, default=str))),
            "channels": {
                d.channel: "delivered"
                if d.delivered
                else f"undeliverable after {d.attempts} attempt(s): {d.error}"
                for d in result.deliveries
            },
        }
        line = json.dumps(entry, ensure_ascii=False, sort_keys=True)
        try:
            path = Path(self.log_path)
            path.parent.mkdir(parents=True, exist_ok=True)
            with _write_lock, path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        except OSError as exc:
            log.error(f"Could not write the notification log {self.log_path}: {exc}; entry: {line}")


def redact_urls(text: str) -> str:
    """text with the password of any URL in it replaced by ***."""
    return _URL_CREDENTIALS.sub(r"\1:***@", text)


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """The entries of a notification log file (tests, troubleshooting)."""
    p = Path(path)
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line]


def notifier_from_env(environ: dict[str, str] | None = None) -> NotifierResource:
    """The notifier configured by the environment: every set variable is passed as ``EnvVar`` (the
    UI shows names, never values); unset ones keep the defaults (channel off)."""
    env = os.environ if environ is None else environ
    kwargs: dict[str, Any] = {}
    for name, var in (
        ("log_path", LOG_PATH_ENV),
        ("webhook_url", WEBHOOK_URL_ENV),
        ("smtp_host", SMTP_HOST_ENV),
        ("smtp_security", SMTP_SECURITY_ENV),
        ("smtp_user", SMTP_USER_ENV),
        ("smtp_password", SMTP_PASSWORD_ENV),
        ("email_from", EMAIL_FROM_ENV),
        ("email_to", EMAIL_TO_ENV),
    ):
        if env.get(var):
            kwargs[name] = EnvVar(var)
    if env.get(SMTP_PORT_ENV):
        kwargs["smtp_port"] = EnvVar.int(SMTP_PORT_ENV)
    return NotifierResource(**kwargs)


def summarize(lines: Sequence[str], limit: int, noun: str = "more") -> str:
    """At most ``limit`` lines, then "… and N more"."""
    shown = list(lines[:limit])
    rest = len(lines) - len(shown)
    if rest > 0:
        shown.append(f"… and {rest} {noun}")
    return "\n".join(shown)

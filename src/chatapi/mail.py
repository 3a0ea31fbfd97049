"""Outgoing e-mail over SMTP (aiosmtplib): password-reset links."""

from __future__ import annotations

import logging
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import aiosmtplib

log = logging.getLogger(__name__)

SEND_TIMEOUT_SECONDS = 30


class Mailer:
    """Sends plain-text mails through the SMTP server of `SMTP_URL`: `smtp://` upgrades
    with STARTTLS when the server offers it, `smtps://` speaks TLS from the start; the
    URL's user and password log in."""

    def __init__(self, url: str, sender: str) -> None:
        parts = urlsplit(url)
        self.sender = sender
        self._host = parts.hostname or "localhost"
        self._tls = parts.scheme == "smtps"
        self._port = parts.port or (465 if self._tls else 25)
        self._username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None

    async def send(self, *, to: str, subject: str, text: str) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        # Plain 7-bit lines where the text allows (links stay whole and clickable for
        # every mail reader), quoted-printable otherwise.
        message.set_content(text, cte="7bit" if text.isascii() else "quoted-printable")
        await aiosmtplib.send(
            message,
            hostname=self._host,
            port=self._port,
            username=self._username,
            password=self._password,
            use_tls=self._tls,
            start_tls=None if not self._tls else False,
            timeout=SEND_TIMEOUT_SECONDS,
        )

    async def send_quietly(self, *, to: str, subject: str, text: str) -> None:
        """`send`, logging a failure instead of raising (after the answer has gone)."""
        try:
            await self.send(to=to, subject=subject, text=text)
        except (aiosmtplib.SMTPException, OSError) as exc:
            log.warning("mail to a user could not be sent: %s", exc)

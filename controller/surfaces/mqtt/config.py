"""Where and how to reach the broker, from one URL (as pymavlink opens every link from one).

    mqtt://[user[:password]@]host[:port][?unit=ID&telemetry=HZ&keepalive=S&prefix=..&discovery=..
                                         &support_url=URL]
    mqtts://...[&ca=FILE&cert=FILE&key=FILE&insecure=1]

The password may instead come from HALFSTEP_MQTT_PASSWORD, so it stays out of the process list
and shell history.
"""

from __future__ import annotations

import os
import re
import ssl
from typing import Annotated, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from firmware_bridge.redact import redact_url
from firmware_bridge.validation import describe

PASSWORD_ENV = "HALFSTEP_MQTT_PASSWORD"
TOPIC_SAFE = re.compile(r"[^a-z0-9_-]+")


class MqttUrlError(ValueError):
    pass


class MqttSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: Annotated[str, Field(min_length=1)]
    port: Annotated[int, Field(ge=1, le=65535)]
    username: str | None = None
    password: str | None = Field(default=None, repr=False)
    tls: bool = False
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    insecure: bool = False
    unit: Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,64}$")] | None = None
    telemetry: Annotated[float, Field(ge=0, le=50)] = 0.0  # messages/s; 0 = no samples
    keepalive: Annotated[int, Field(ge=1, le=3600)] = 10  # s; the broker says offline after 1.5x
    prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")] = "halfstep"
    discovery: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")] = "homeassistant"
    # Where Home Assistant links "support" for this integration (default: the panel's page).
    support_url: Annotated[str, Field(pattern=r"^https?://[^\s]+$", max_length=2000)] | None = None

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        ctx = ssl.create_default_context(cafile=self.ca)
        if self.cert:
            ctx.load_cert_chain(self.cert, self.key)
        if self.insecure:  # self-signed test brokers only: the hostname is not checked
            ctx.check_hostname = False
        return ctx

    def redacted(self) -> str:
        """The URL as it may be logged: never the password."""
        auth = f"{self.username}:***@" if self.username else ""
        scheme = "mqtts" if self.tls else "mqtt"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{auth}{host}:{self.port}"


def unit_id(serial: str) -> str:
    """A unit's id in topic names: lower case, only [a-z0-9_-]."""
    return TOPIC_SAFE.sub("-", serial.lower()).strip("-")[:64] or "unit"


def parse_mqtt_url(url: str) -> MqttSettings:
    try:
        parts = urlsplit(url)
    except ValueError as e:  # e.g. an unclosed IPv6 bracket
        raise MqttUrlError(f"{_safe(url)!r}: not a URL ({e}); e.g. mqtt://user:pass@host:1883 "
                           "or mqtt://[::1]:1883") from None
    if parts.scheme not in ("mqtt", "mqtts"):
        raise MqttUrlError(f"{_safe(url)!r}: the broker URL must start with mqtt:// or mqtts:// "
                           "(e.g. mqtt://user:pass@localhost:1883)")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0 or (port is None and parts.netloc.rsplit("]", 1)[-1].endswith(":")):
        raise MqttUrlError(f"{_safe(url)!r}: the port must be a number from 1 to 65535")
    query: dict[str, Any] = {}
    for k, v in parse_qsl(parts.query, keep_blank_values=True):
        if k not in MqttSettings.model_fields or k in ("host", "port", "username", "password",
                                                       "tls"):
            allowed = ("unit", "telemetry", "keepalive", "prefix", "discovery", "ca", "cert",
                       "key", "insecure", "support_url")
            raise MqttUrlError(f"{_safe(url)!r}: unknown option {k!r}; "
                               f"allowed: {', '.join(allowed)}")
        query[k] = v in ("1", "true", "yes") if k == "insecure" else v
    if "unit" in query:
        query["unit"] = query["unit"].lower()
    for k in ("ca", "cert", "key"):
        if k in query and not os.path.isfile(query[k]):
            raise MqttUrlError(f"{_safe(url)!r}: {k}={query[k]!r}: no such file")
    if ("cert" in query) != ("key" in query):
        raise MqttUrlError(f"{_safe(url)!r}: a client certificate needs both cert= and key=")
    password = unquote(parts.password) if parts.password else os.environ.get(PASSWORD_ENV)
    try:
        settings = MqttSettings(host=parts.hostname or "", tls=parts.scheme == "mqtts",
                            port=port or (8883 if parts.scheme == "mqtts" else 1883),
                            username=unquote(parts.username) if parts.username else None,
                                password=password, **query)
    except ValidationError as e:
        raise MqttUrlError(f"broker URL {_safe(url)!r}: " + describe(e)) from None
    try:  # certificates read now: a bad file is a usage error at once, not mid-session
        settings.ssl_context()
    except (ssl.SSLError, OSError, ValueError) as e:
        raise MqttUrlError(f"{_safe(url)!r}: the TLS files cannot be used ({e})") from None
    return settings


def _safe(url: str) -> str:
    return redact_url(url)

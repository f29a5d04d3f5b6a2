"""The panel's lock: PIN hashing, wrong-PIN lockout per client and login sessions.

Off the loopback the panel asks for a PIN, which also locks starting the motor. This is the
part that must hold against guessing, kept apart from the HTTP wiring (`app.py`) so that it
can be read and tested on its own.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import re
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["FORGET_S", "LOCKOUT_CAP_S", "LOCKOUT_S", "MAX_CLIENTS", "MAX_TRIES", "PIN_RULE",
           "SESSION_S", "WRONG_PER_DAY", "WRONG_PER_HOUR", "PinGuard", "Sessions", "client_key",
           "hash_pin", "is_loopback", "pin_matches", "valid_pin"]

PIN_RULE = "4 to 12 digits 0-9"  # ASCII digits; 6 or more recommended
# Wrong PINs (see PinGuard): a client (one address; one /64 for IPv6) has MAX_TRIES free, then
# waits LOCKOUT_S, doubled at every further wrong PIN up to LOCKOUT_CAP_S. Clients off the
# loopback share a budget of wrong PINs an hour and a day, so that many addresses buy nothing.
MAX_TRIES = 5
LOCKOUT_S = 30.0
LOCKOUT_CAP_S = 3600.0
FORGET_S = 86400.0  # a client's wrong PINs are forgotten a day after its last one
WRONG_PER_HOUR = 10
WRONG_PER_DAY = 50
MAX_CLIENTS = 4096  # clients whose wrong PINs are remembered
SESSION_S = 30 * 86400  # a login lasts 30 days: the cookie's Max-Age, enforced here too


def hash_pin(pin: str, salt: bytes | None = None) -> dict[str, str]:
    """Salted scrypt: slow on purpose (tens of ms), so a stolen PIN file is no quick lookup
    table; the caller runs it off the event loop."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=2**14, r=8, p=1)
    return {"salt": salt.hex(), "scrypt": digest.hex()}


def pin_matches(pin: str, stored: dict[str, str]) -> bool:
    """Compared in constant time, so the answer's timing says nothing about the digest."""
    return hmac.compare_digest(hash_pin(pin, bytes.fromhex(stored["salt"]))["scrypt"],
                               stored["scrypt"])


_PIN = re.compile(r"[0-9]{4,12}")  # PIN_RULE


def valid_pin(pin: object) -> bool:
    """4 to 12 ASCII digits: `str.isdigit` would also take other scripts' digits (and
    superscripts), which a keypad cannot type back."""
    return isinstance(pin, str) and _PIN.fullmatch(pin) is not None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def client_key(remote: str | None) -> str:
    """Who a request comes from, for counting wrong PINs: the peer's address as the socket
    says (never a header a client writes, such as X-Forwarded-For), an IPv4-mapped address as
    IPv4, and an IPv6 address as its /64, which one machine can fill with addresses at will."""
    try:
        ip = ipaddress.ip_address(remote or "")
    except ValueError:
        return remote or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        if not ip.is_loopback:
            return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


@dataclass
class _Client:
    failures: int = 0
    until: float = 0.0  # no PIN is checked for this client before this time
    last: float = 0.0  # its last wrong PIN


class PinGuard:
    """Wrong PINs, counted per client: one client guessing locks out only itself, so a browser
    already logged in, the unit's own screen (the loopback) and every other address keep
    working. A client gets MAX_TRIES, then waits LOCKOUT_S, doubled per wrong PIN up to
    LOCKOUT_CAP_S. Clients off the loopback also share WRONG_PER_HOUR and WRONG_PER_DAY, so
    that an attacker with many addresses gets no more guesses than one with a few; that
    budget never applies to the loopback, and a logged-in browser does not need to log in.

    A guess counts as wrong from the moment it is admitted (`admit`) until `passed` takes it
    back: concurrent guesses cannot slip past the count while scrypt runs."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.clients: dict[str, _Client] = {}
        self.wrong: deque[float] = deque(maxlen=WRONG_PER_DAY)  # off the loopback

    def wait(self, client: str) -> float:
        """Seconds before this client's next PIN is checked (0: now)."""
        now = self.clock()
        c = self._client(client, now)
        mine = c.until - now if c is not None else 0.0
        return max(0.0, mine, 0.0 if is_loopback(client) else self._shared_wait(now))

    def admit(self, client: str) -> float:
        """Count a guess as wrong before it is checked; returns its time for `passed`."""
        now = self.clock()
        c = self._client(client, now) or self.clients.setdefault(client, _Client())
        c.failures += 1
        c.last = now
        if c.failures >= MAX_TRIES:
            doublings = min(c.failures - MAX_TRIES, 20)
            c.until = now + min(LOCKOUT_S * 2 ** doublings, LOCKOUT_CAP_S)
        if not is_loopback(client):
            self.wrong.append(now)
        self._prune(now)
        return now

    def passed(self, client: str, at: float) -> None:
        """The right PIN: the client starts afresh and its guess leaves the shared budget."""
        self.clients.pop(client, None)
        if not is_loopback(client):
            with contextlib.suppress(ValueError):
                self.wrong.remove(at)

    def _client(self, client: str, now: float) -> _Client | None:
        c = self.clients.get(client)
        if c is not None and c.until <= now and now - c.last > FORGET_S:
            del self.clients[client]
            return None
        return c

    def _shared_wait(self, now: float) -> float:
        """Until the hour's and the day's budgets of wrong PINs off the loopback have room."""
        wait = 0.0
        hour = [t for t in self.wrong if t > now - 3600]
        if len(hour) >= WRONG_PER_HOUR:
            wait = hour[-WRONG_PER_HOUR] + 3600 - now
        if len(self.wrong) >= WRONG_PER_DAY and self.wrong[0] > now - 86400:
            wait = max(wait, self.wrong[0] + 86400 - now)
        return wait

    def _prune(self, now: float) -> None:
        """Bounded memory: forgotten clients go first, then those whose last guess is oldest
        (the shared budget still holds for them)."""
        if len(self.clients) <= MAX_CLIENTS:
            return
        for key in [k for k, c in self.clients.items()
                    if c.until <= now and now - c.last > FORGET_S]:
            del self.clients[key]
        while len(self.clients) > MAX_CLIENTS:
            del self.clients[min(self.clients, key=lambda k: self.clients[k].last)]


class Sessions:
    """Login tokens that expire SESSION_S after login. The cookie's Max-Age asks the browser
    to forget it; a copied cookie is refused here all the same once its time is up."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, ttl: float = SESSION_S):
        self.clock, self.ttl = clock, ttl
        self.expires: dict[str, float] = {}

    def new(self) -> str:
        now = self.clock()
        for token in [t for t, end in self.expires.items() if end <= now]:
            del self.expires[token]
        token = secrets.token_urlsafe(24)
        self.expires[token] = now + self.ttl
        return token

    def valid(self, token: str | None) -> bool:
        end = self.expires.get(token) if token else None
        if end is None:
            return False
        if end <= self.clock():
            del self.expires[token]  # type: ignore[arg-type]
            return False
        return True

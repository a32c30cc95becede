"""Desk users and their sessions, in the assistant's database beside the queue.

A user is an agent (also a queue agent, with skills) or a supervisor. Passwords are kept as scrypt
hashes with a salt of their own; a login compares in constant time and costs the same for a name
nobody has, so neither timing nor messages tell which names exist. A session is a random token in
the browser's cookie; the database keeps only its SHA-256, so a copy of the database logs nobody in.
Sessions last `session_minutes` from the login (fixed, not sliding: a shift's login ends when the
shift would, however busy it was); logging out, or a new password, ends them sooner.

Guessing is throttled per name and per client address, in the database so that every server counts
the same attempts: each attempt is counted as it starts, in one statement (so parallel attempts on
several servers cannot all slip under the limit); after `max_failed_logins` for a name (or
`max_failed_logins_per_address` from an address) within `lockout_minutes` of the first, its logins are
refused until those minutes have passed, whatever the password. Unknown names count the same way. A
successful login clears its name's count, and takes only itself off its address's count: one account's
good password does not buy guesses at others.
"""
from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from assistant.core.errors import AssistantError
from assistant.desktop.settings import DesktopSettings
from assistant.queue.routing import CallQueue

AGENT, SUPERVISOR = "agent", "supervisor"
ROLES = (AGENT, SUPERVISOR)
MIN_PASSWORD = 8
NOT_LOGGED_IN = "not logged in, or the session has expired: log in again"

SCHEMA = """
CREATE TABLE IF NOT EXISTS desk_users (name TEXT PRIMARY KEY, role TEXT NOT NULL, password TEXT NOT NULL,
    created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS desk_sessions (token_hash TEXT PRIMARY KEY, name TEXT NOT NULL REFERENCES desk_users,
    created_at TEXT NOT NULL, expires_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS desk_sessions_expiry ON desk_sessions (expires_at);
CREATE TABLE IF NOT EXISTS desk_login_attempts (name TEXT PRIMARY KEY, attempts INTEGER NOT NULL,
    since TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS desk_login_addresses (address TEXT PRIMARY KEY, attempts INTEGER NOT NULL,
    since TEXT NOT NULL);
"""
# The attempts counted per name, and per client address: table and key column.
_BY_NAME, _BY_ADDRESS = ("desk_login_attempts", "name"), ("desk_login_addresses", "address")
# One more login attempt: the count starts again once the window from its first attempt has passed.
_ATTEMPT = (
    "INSERT INTO {0} ({1}, attempts, since) VALUES (?, 1, ?) ON CONFLICT ({1}) DO UPDATE SET "
    "attempts = CASE WHEN {0}.since <= ? THEN 1 ELSE {0}.attempts + 1 END, "
    "since = CASE WHEN {0}.since <= ? THEN excluded.since ELSE {0}.since END "
    "RETURNING attempts, since")
# scrypt cost: 16 MiB and ~50 ms a hash, slow for guessing and fine for a login.
_N, _R, _P, _LENGTH = 2 ** 14, 8, 1, 32


@dataclass(frozen=True)
class User:
    name: str
    role: str


class LockedOut(AssistantError):
    """Too many failed logins for a name or from an address (`whose`): refused for `retry_s` more seconds."""

    def __init__(self, retry_s: int, whose: str = "for this name") -> None:
        super().__init__(f"too many failed logins {whose}: try again in {math.ceil(retry_s / 60)} min")
        self.retry_s = retry_s


class Accounts:
    def __init__(self, queue: CallQueue, settings: DesktopSettings) -> None:
        self.queue = queue
        self.db = queue.db
        self.session = timedelta(minutes=settings.session_minutes)
        self.max_failed = settings.max_failed_logins
        self.max_failed_per_address = settings.max_failed_logins_per_address
        self.lockout = timedelta(minutes=settings.lockout_minutes)
        self.db.script(SCHEMA)

    def add_user(self, name: str, role: str, password: str, skills: list[str] | None = None) -> User:
        """Add a user, or give one a new role and password (which ends their sessions). An agent is
        a queue agent too: `skills` are needed for a new one, and change an existing one's."""
        name = name.strip()
        if not name:
            raise AssistantError("a desk user needs a name")
        if role not in ROLES:
            raise AssistantError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        if len(password) < MIN_PASSWORD:
            raise AssistantError(f"the password must have at least {MIN_PASSWORD} characters")
        if role == AGENT:
            self.queue.set_agent(name, skills)
        elif skills:
            raise AssistantError("supervisors take no calls: give skills to agents only")
        hashed, now = _hash(password), self.queue.stamp()
        with self.db.write():
            if self.db.execute("UPDATE desk_users SET role = ?, password = ? WHERE name = ?", (role, hashed, name)):
                self.db.execute("DELETE FROM desk_sessions WHERE name = ?", (name,))
            else:
                self.db.execute("INSERT INTO desk_users (name, role, password, created_at) VALUES (?, ?, ?, ?)",
                                (name, role, hashed, now))
        return User(name, role)

    def login(self, name: str, password: str, address: str | None = None) -> tuple[User, str] | None:
        """The user and a new session token if the password is theirs, else None; LockedOut after too
        many failed attempts for the name, or from the client `address` (None: not over the network)."""
        name = name.strip()
        if address is not None:
            self._count_attempt(_BY_ADDRESS, address, self.max_failed_per_address, "from this address")
        self._count_attempt(_BY_NAME, name, self.max_failed, "for this name")
        row = self.db.row("SELECT name, role, password FROM desk_users WHERE name = ?", (name,))
        # An unknown name is checked against a stand-in hash: the answer takes as long as for a known one.
        matches = _matches(password, row["password"] if row else _stand_in())
        if row is None or not matches:
            return None
        token, now = secrets.token_urlsafe(32), self.queue.clock()
        stamp = self.queue.stamp
        with self.db.write():
            self.db.execute("DELETE FROM desk_sessions WHERE expires_at < ?", (stamp(now),))
            self.db.execute("DELETE FROM desk_login_attempts WHERE name = ? OR since <= ?",
                            (name, stamp(now - self.lockout)))  # this name's count, and every stale one
            self.db.execute("DELETE FROM desk_login_addresses WHERE since <= ?", (stamp(now - self.lockout),))
            if address is not None:
                self.db.execute("UPDATE desk_login_addresses SET attempts = attempts - 1 WHERE address = ? "
                                "AND attempts > 0", (address,))
            self.db.execute("INSERT INTO desk_sessions (token_hash, name, created_at, expires_at) VALUES (?, ?, ?, ?)",
                            (_digest(token), row["name"], stamp(now), stamp(now + self.session)))
        return User(row["name"], row["role"]), token

    def _count_attempt(self, table: tuple[str, str], key: str, limit: int, whose: str) -> None:
        """Counts a login attempt for `key` (a name or an address) in `table`; LockedOut when the failed ones
        before it reached `limit`."""
        now = self.queue.clock()
        stale = self.queue.stamp(now - self.lockout)
        (counted,) = self.db.rows(_ATTEMPT.format(*table), (key, self.queue.stamp(now), stale, stale))
        if counted["attempts"] > limit:
            ends = datetime.fromisoformat(counted["since"]) + self.lockout
            raise LockedOut(math.ceil((ends - now).total_seconds()), whose)

    def user(self, token: str) -> User | None:
        """Whose session `token` is; None for an unknown, ended or expired one."""
        row = self.db.row("SELECT u.name, u.role, s.expires_at FROM desk_sessions s JOIN desk_users u "
                          "ON u.name = s.name WHERE s.token_hash = ?", (_digest(token),))
        if row is None or datetime.fromisoformat(row["expires_at"]) <= self.queue.clock():
            return None
        return User(row["name"], row["role"])

    def logout(self, token: str) -> None:
        self.db.execute("DELETE FROM desk_sessions WHERE token_hash = ?", (_digest(token),))


def _hash(password: str) -> str:
    """scrypt$N$r$p$salt$hash (hex), with a new salt: the parameters travel with the hash, so they can be
    raised later."""
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_LENGTH)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${key.hex()}"


def _matches(password: str, stored: str) -> bool:
    _, n, r, p, salt, key = stored.split("$")
    expected = bytes.fromhex(key)
    got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                         dklen=len(expected))
    return hmac.compare_digest(got, expected)


@cache
def _stand_in() -> str:
    return _hash(secrets.token_urlsafe(16))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()

"""What the desk's endpoints work with: built once per app by the runtime (assistant/runtime/desk.py)."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

from assistant.campaigns.agents import AgentDesks
from assistant.campaigns.report import Reports
from assistant.desktop.accounts import Accounts
from assistant.desktop.board import Board
from assistant.desktop.live import Live
from assistant.desktop.settings import DesktopSettings
from assistant.desktop.stats import Stats
from assistant.queue.routing import CallQueue
from assistant.storage.recordings import Recordings


class BackgroundWork(Protocol):
    """Work that goes on for as long as the server runs (e.g. handing out due callbacks, deleting old recordings)."""

    async def run(self, stop: asyncio.Event) -> None: ...


@dataclass(frozen=True)
class Services:
    queue: CallQueue
    settings: DesktopSettings
    accounts: Accounts
    board: Board
    stats: Stats
    live: Live
    background: tuple[BackgroundWork, ...] = ()
    recordings: Recordings | None = None  # call recordings, linked to tickets (None: none kept here)
    campaigns: Reports | None = None  # outbound campaigns' figures (None: none run on this database)

    @cached_property
    def previews(self) -> AgentDesks | None:
        """The contacts of preview campaigns offered to agents (None: no campaigns on this database)."""
        return AgentDesks(self.queue, self.campaigns.store) if self.campaigns is not None else None

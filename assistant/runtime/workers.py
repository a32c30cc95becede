"""Due callbacks reach agents at their time, even when nobody presses "take next": while the server
runs, a background task hands them out every `dispatch_s` (Callbacks.dispatch, in a thread: it blocks
on the database).

Every server runs one, and so may `assistant queue dispatch`: dispatch claims each callback in a write
transaction of its own, so a callback goes to one agent however many of them look at once.
"""
from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from assistant.queue.routing import Entry
from assistant.runtime.desk import Desk
from domain.errors import UserError
from domain.masking import tail

log = logging.getLogger(__name__)


class CallbackScheduler:
    def __init__(self, desk: Desk, every_s: float) -> None:
        # Desk.callbacks is built at the first tick, not with the app: it opens the bank's back end
        # (Callbacks needs it for the SMS of bookings; handing out sends none), which takes a second.
        self.desk = desk
        self.every_s = every_s

    def tick(self) -> list[Entry]:
        """Hands every due callback to an available agent with its skill, now (blocking); those handed."""
        handed = self.desk.callbacks.dispatch()
        for entry in handed:
            booked = entry.callback or {}  # every ticket dispatch hands out has one
            # The number by its last 4 digits only: the log is read by more people than the agent.
            log.info("callback #%d due %s handed to %s (call %s)", entry.ticket, booked.get("due_at"),
                     entry.agent, tail(booked.get("phone", "")))
        return handed

    async def run(self, stop: asyncio.Event) -> None:
        """Ticks now and every `every_s` until `stop` is set; a tick under way is finished first, so no
        write transaction is cut off when the server stops."""
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.tick)
            except UserError as error:  # the database refused (e.g. another server took the agent)
                log.warning("handing out due callbacks: %s; trying again in %g s", error, self.every_s)
            except Exception:  # a bug must not end callbacks for the rest of the server's life
                log.exception("handing out due callbacks failed; trying again in %g s", self.every_s)
            with suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), self.every_s)

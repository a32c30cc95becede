"""Turns that were not understood: the first is asked again, the second offers keys (the key menu,
or typing the value asked for), and after `dialog.misses` in a row a person takes over."""
from __future__ import annotations

from typing import Protocol

from assistant.dialog.reasons import NO_MATCH
from assistant.dialog.reply import Reply
from assistant.dialog.task import CONFIRMATION

MENU = "menu"  # awaited while the key menu is open


class Asking(Protocol):
    """What the no-match flow needs of the call's dialog."""

    @property
    def awaiting(self) -> str | None: ...
    def ask_again(self) -> None: ...
    def open_menu(self) -> None: ...
    def escalate(self, reason: str) -> None: ...
    def keys_type_value(self) -> bool:
        """Whether keys can type the value asked for (an amount, a code; not a word or a single key)."""


class NoMatch:
    def __init__(self, prompts: dict[str, str], not_understood: str, limit: int, reply: Reply,
                 call: Asking) -> None:
        """`not_understood`: said at a first miss with nothing asked; `limit`: misses in a row for a person."""
        self.prompts = prompts
        self.not_understood = not_understood
        self.limit = limit
        self.reply = reply
        self.call = call
        self.misses = 0  # in a row

    def miss(self) -> None:
        self.misses += 1
        self.reply.missed = True
        say, prompts = self.reply.say, self.prompts
        if self.misses >= self.limit:
            say(prompts["sorry"])
            self.call.escalate(NO_MATCH)
            return
        awaiting = self.call.awaiting
        if self.misses == 1:
            if awaiting is None:
                say(self.not_understood)
            else:
                say(prompts["sorry"])
                self.call.ask_again()
            return
        # The second miss in a row: offer keys.
        if awaiting == CONFIRMATION:
            say(prompts["sorry"] + prompts["confirm_again"])
        elif awaiting in (None, MENU):
            say(prompts["sorry"])
            self.call.open_menu()
        else:
            say(prompts["sorry"])
            self.call.ask_again()
            if self.call.keys_type_value():
                say(prompts["key_entry"])

    def end_turn(self) -> None:
        """A turn that was understood ends a run of misses."""
        if not self.reply.missed:
            self.misses = 0

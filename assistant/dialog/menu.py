"""The key menu: the bank's key-press menu tree, built from the functions' `menu:` paths.

Opened when the caller asks for it or after a second miss with nothing asked, and by keys pressed
with nothing asked; * goes back up one level, 0 asks for a person, a leaf starts its function.
"""
from __future__ import annotations

from typing import Protocol

from assistant.catalog.catalog import MENU_KEYS, Catalog, FunctionSpec, MenuNode
from assistant.catalog.template import render
from assistant.dialog.keypad import PERSON, STAR
from assistant.dialog.reasons import CALLER_REQUEST
from assistant.dialog.reply import Reply


class Choosing(Protocol):
    """What a menu choice leads to in the call's dialog."""

    def start(self, function: FunctionSpec) -> None: ...
    def escalate(self, reason: str) -> None: ...


class KeyMenu:
    def __init__(self, catalog: Catalog, reply: Reply, call: Choosing) -> None:
        self.catalog = catalog
        self.reply = reply
        self.call = call
        self.path: list[MenuNode] | None = None  # from the top to the level shown, while open

    @property
    def open(self) -> bool:
        return self.path is not None

    def show(self) -> None:
        """Open at the top and say its options."""
        self.path = [self.catalog.menu]
        self.reply.say(self.prompt())

    def close(self) -> None:
        self.path = None

    def prompt(self) -> str:
        """The options of the level shown (the top one when closed)."""
        return menu_prompt(self.catalog, self.path[-1] if self.path else self.catalog.menu)

    def key(self, key: str) -> None:
        """A key pressed in the menu (or with nothing asked: it chooses from the top)."""
        self.path = self.path or [self.catalog.menu]
        node = self.path[-1]
        index = MENU_KEYS.find(key) if len(key) == 1 else -1
        if key == PERSON:
            self.call.escalate(CALLER_REQUEST)
        elif key == STAR:
            if len(self.path) > 1:
                self.path.pop()
            self.reply.say(self.prompt())
        elif 0 <= index < len(node.children):
            child = node.children[index]
            if child.function:
                self.call.start(self.catalog.functions[child.function])
            else:
                self.path.append(child)
                self.reply.say(self.prompt())
        else:
            self.reply.say(self.catalog.prompts["menu_invalid"] + self.prompt())


def menu_prompt(catalog: Catalog, node: MenuNode) -> str:
    options = "，".join(render(catalog.prompts["menu_option"], {"key": key, "title": child.title})
                       for key, child in zip(MENU_KEYS, node.children))
    return render(catalog.prompts["menu"], {"options": options})

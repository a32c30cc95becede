"""The dialog policy: what every call shares, and one `Dialog` (assistant/dialog/) opened per call."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adapters.base import Backend
from assistant.catalog.catalog import Catalog
from assistant.core.errors import AssistantError
from assistant.dialog.dialog import Dialog
from assistant.dialog.wording import Names, Wording
from assistant.queue.callbacks import Callbacks
from assistant.queue.forecast import Forecast
from assistant.queue.routing import CallQueue
from assistant.queue.settings import QueueSettings
from assistant.storage.calls import CallStore
from domain.clock import Clock


@dataclass(frozen=True)
class DialogSettings:
    threshold: float = 0.45  # NLU confidence below which the caller was not understood
    switch_confidence: float = 0.8  # to leave a function in progress for another named in passing
    misses: int = 3  # misses in a row that put the call through to a person (the 2nd offers keys)
    pin_length: int = 6

    @classmethod
    def from_config(cls, section: dict[str, Any], threshold: float) -> DialogSettings:
        """config.yml's `dialog:` section; the NLU threshold comes from `nlu:`."""
        unknown = set(section) - {"switch_confidence", "misses", "pin_length", "database"}
        if unknown:
            raise AssistantError(f"config.yml: dialog: unknown setting {sorted(unknown)[0]!r}")
        try:
            return cls(threshold=float(threshold),
                       switch_confidence=float(section.get("switch_confidence", cls.switch_confidence)),
                       misses=int(section.get("misses", cls.misses)),
                       pin_length=int(section.get("pin_length", cls.pin_length)))
        except (TypeError, ValueError) as error:
            raise AssistantError(f"config.yml: dialog: a setting is not a number ({error})") from error


class Policy:
    def __init__(self, catalog: Catalog, names: Names, backend: Backend, store: CallStore,
                 clock: Clock, settings: DialogSettings = DialogSettings(),
                 queue_settings: QueueSettings = QueueSettings()) -> None:
        """`names(value)` is how a canonical stock, currency or bill type is said: 600519 → 贵州茅台."""
        self.catalog = catalog
        self.wording = Wording(catalog, names)
        self.backend = backend
        self.store = store
        self.clock = clock
        self.settings = settings
        self.queue = CallQueue(store, queue_settings)  # people: the hand-off queue in the same database
        self.forecast = Forecast(self.queue)
        self.callbacks = Callbacks(self.forecast, backend, catalog.prompts, self.wording.value)

    def open(self, caller: str | None = None) -> Dialog:
        """A dialog for a new call; `caller` is its caller id (a phone number), if known."""
        return Dialog(self, caller)

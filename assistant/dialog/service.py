"""What every call's dialog shares (the catalog, its wording, the back end, the call store, the clock,
the settings and the hand-off queue); it opens one `Dialog` per call, made of its parts."""
from __future__ import annotations

from adapters.base import Backend
from assistant.catalog.catalog import Catalog
from assistant.core.errors import AssistantError
from assistant.dialog.actions import Actions
from assistant.dialog.callback import CallbackBooking
from assistant.dialog.dialog import Dialog
from assistant.dialog.handoff import HandOff
from assistant.dialog.reasons import handoff_reasons
from assistant.dialog.record import CallRecord
from assistant.dialog.settings import DialogSettings
from assistant.dialog.verification import Verification
from assistant.dialog.wording import Names, Wording
from assistant.queue.callbacks import Callbacks
from assistant.queue.forecast import Forecast
from assistant.queue.handoff import HandOffQueue
from assistant.queue.routing import CallQueue
from assistant.queue.settings import QueueSettings
from assistant.storage.calls import CallStore
from domain.clock import Clock


class DialogService:
    def __init__(self, catalog: Catalog, names: Names, backend: Backend, store: CallStore,
                 clock: Clock, settings: DialogSettings = DialogSettings(),
                 queue_settings: QueueSettings = QueueSettings()) -> None:
        """`names(value)` is how a canonical stock, currency or bill type is said: 600519 → 贵州茅台."""
        unknown = set(queue_settings.reasons) - handoff_reasons(catalog)
        if unknown:  # a misspelt reason would rank nothing, silently
            raise AssistantError(f"config.yml: queue: reasons: {sorted(unknown)[0]!r} is no hand-off reason "
                                 f"(they are: {', '.join(sorted(handoff_reasons(catalog)))})")
        self.catalog = catalog
        self.wording = Wording(catalog, names)
        self.backend = backend
        self.store = store
        self.clock = clock
        self.settings = settings
        self.queue = CallQueue(store, queue_settings)  # people: the hand-off queue in the same database
        self.callbacks = Callbacks(Forecast(self.queue), backend, catalog.prompts, self.wording.value,
                                   catalog.actions.sms)
        self.handoffs = HandOffQueue(self.callbacks)

    def open(self, caller: str | None = None) -> Dialog:
        """A dialog for a new call; `caller` is its caller id (a phone number), if known."""
        record = CallRecord(self.store, caller)
        actions = Actions(self.backend, record)
        return Dialog(self.catalog, self.wording, self.settings, self.clock, record, actions,
                      Verification(actions, self.catalog, self.wording, self.settings.pin_length, caller),
                      HandOff(self.handoffs, self.catalog.prompts, record, caller),
                      CallbackBooking(self.handoffs, self.catalog, caller))

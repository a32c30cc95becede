"""The people's side wired together: the hand-off queue as config.yml places it, the desk's services
over it, and the agent desktop app with its background work (handing out due callbacks, deleting old
recordings)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Optional

from adapters import backend_clock, open_backend
from assistant.campaigns.report import Reports
from assistant.campaigns.rules import CallingRules
from assistant.campaigns.store import CampaignStore
from assistant.catalog.catalog import Catalog
from assistant.core.errors import AssistantError
from assistant.desktop.accounts import Accounts
from assistant.desktop.board import Board
from assistant.desktop.live import Live
from assistant.desktop.services import Services
from assistant.desktop.settings import DesktopSettings
from assistant.desktop.stats import Stats
from assistant.dialog.wording import Wording
from assistant.queue.routing import CallQueue
from assistant.queue.settings import QueueSettings
from assistant.storage.calls import CallStore, database_location
from assistant.storage.recordings import Recordings, RecordingSettings
from domain.clock import Clock
from domain.config import Config
from domain.vocabulary import Vocabulary

if TYPE_CHECKING:
    from fastapi import FastAPI

    from assistant.queue.callbacks import Callbacks


@dataclass
class Desk:
    """The queue as config.yml places it: the dialog's database, the sandbox clock when it is pinned
    (unless `database` or `clock` say otherwise: `assistant serve --database`, tests)."""

    config: Config
    database: Optional[str] = None
    clock: Optional[Clock] = None

    @cached_property
    def catalog(self) -> Catalog:
        return Catalog.load(self.config.intents_dir)

    @cached_property
    def queue(self) -> CallQueue:
        store = CallStore(self.database or database_location(self.config), self.clock or backend_clock(self.config))
        return CallQueue(store, QueueSettings.from_config(self.config.section("queue")))

    @cached_property
    def callbacks(self) -> Callbacks:
        # Here, not at the top: Erlang C (pyworkforce) and the time reader take ~2 s to import, which
        # every `assistant` command would pay.
        from assistant.queue.callbacks import Callbacks
        from assistant.queue.forecast import Forecast

        wording = Wording(self.catalog, str)  # says times; names of stocks and currencies are not needed
        return Callbacks(Forecast(self.queue), open_backend(self.config), self.catalog.prompts, wording.value,
                         self.catalog.actions.sms)

    def skills(self) -> set[str]:
        rules = self.queue.settings.reasons.values()
        return set(self.catalog.skills()) | {rule.skill for rule in rules if rule.skill}

    def skill_list(self, text: Optional[str]) -> Optional[list[str]]:
        """Skill groups from a comma-separated option (None: not given), each a known one."""
        if text is None:
            return None
        wanted = [s.strip() for s in text.split(",") if s.strip()]
        unknown = sorted(set(wanted) - self.skills())
        if unknown:
            raise AssistantError(f"unknown skill {unknown[0]!r} (known: {', '.join(sorted(self.skills()))})")
        return wanted


def desk_services(config: Config, database: str, clock: Clock) -> Services:
    """What the desk's endpoints work with, over one database, with due callbacks handed out while it runs."""
    from assistant.queue.forecast import Forecast
    from assistant.runtime.workers import CallbackScheduler, RecordingRetention

    desk = Desk(config, database, clock)
    settings = DesktopSettings.from_config(config.section("desktop"))
    # Slot values as the dialog says them: stock codes, currencies and bill types by their names.
    wording = Wording(desk.catalog, Vocabulary.load(config.nlu_dir).display)
    board = Board(Forecast(desk.queue), wording)
    recordings = Recordings(desk.queue.db, desk.queue.stamp)
    kept = RecordingSettings.from_config(config.section("recording"), config.root)
    retention = RecordingRetention(recordings, desk.queue.clock, kept.retention_days, kept.every_s)
    campaigns = Reports(CampaignStore(desk.queue.db),
                        CallingRules.from_config(config.section("campaigns"), desk.catalog.outbound))
    return Services(desk.queue, settings, Accounts(desk.queue, settings), board, Stats(desk.queue, settings),
                    Live(board, settings.poll_s), (CallbackScheduler(desk, settings.dispatch_s), retention), recordings,
                    campaigns)


def desk_app(config: Config, database: str, clock: Clock) -> FastAPI:
    """The agent desktop over `database` (a SQLite file or a postgresql:// URL)."""
    from assistant.desktop.app import create_app  # the web stack: only for the commands that serve it

    return create_app(desk_services(config, database, clock))

"""What the desk's endpoints work with, built once per app from config.yml and a database."""
from __future__ import annotations

from dataclasses import dataclass

from adapters.clock import Clock
from assistant.config import Config
from assistant.desktop.accounts import Accounts
from assistant.desktop.board import Board
from assistant.desktop.live import Live
from assistant.desktop.scheduler import CallbackScheduler
from assistant.desktop.settings import DesktopSettings
from assistant.desktop.stats import Stats
from assistant.dialog.wording import Wording
from assistant.queue.cli import Desk
from assistant.queue.forecast import Forecast
from assistant.queue.routing import CallQueue
from assistant.vocabulary import Vocabulary


@dataclass(frozen=True)
class Services:
    queue: CallQueue
    settings: DesktopSettings
    accounts: Accounts
    board: Board
    stats: Stats
    live: Live
    scheduler: CallbackScheduler

    @classmethod
    def build(cls, config: Config, database: str, clock: Clock) -> Services:
        desk = Desk(config, database, clock)
        settings = DesktopSettings.from_config(config.section("desktop"))
        # Slot values as the dialog says them: stock codes, currencies and bill types by their names.
        wording = Wording(desk.catalog, Vocabulary.load(config.nlu_dir).display)
        board = Board(Forecast(desk.queue), wording)
        return cls(desk.queue, settings, Accounts(desk.queue, settings), board, Stats(desk.queue, settings),
                   Live(board, settings.poll_s), CallbackScheduler(desk, settings.dispatch_s))

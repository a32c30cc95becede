"""One agent taking calls from a queue database until none is left; run as its own process.

    python tests/queue_taker.py DATABASE AGENT START_FILE     (DATABASE: a SQLite file or a postgresql:// URL)

Opens the database, makes START_FILE.AGENT to say it is ready and waits for START_FILE (so that
several takers start together), then takes the next call, holds it a millisecond, finishes it and
becomes available again, over and over; prints the tickets it got as a JSON list.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from assistant.queue.routing import AVAILABLE, CallQueue
from assistant.queue.settings import QueueSettings
from assistant.storage.calls import CallStore
from domain.clock import real_clock


def main(database: str, agent: str, start_file: str) -> None:
    queue = CallQueue(CallStore(database, real_clock), QueueSettings())
    Path(f"{start_file}.{agent}").touch()
    while not Path(start_file).exists():
        time.sleep(0.005)
    taken = []
    while (entry := queue.take_next(agent)) is not None:
        taken.append(entry.ticket)
        time.sleep(0.001)  # on the call: the other taker gets the CPU and the queue meanwhile
        queue.finish(agent)
        queue.set_agent(agent, state=AVAILABLE)
    print(json.dumps(taken))


if __name__ == "__main__":
    main(*sys.argv[1:])

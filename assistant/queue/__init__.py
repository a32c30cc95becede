"""People behind the assistant: the hand-off queue, agents and their skills, predicted waits, callbacks.

    routing.py    tickets waiting for a person, agents, "take next" (one write transaction)
    forecast.py   the live arrival rate, average handle time and staffing of a skill; the wait a
                  caller hears (Erlang C, erlang.py) and when agents free up
    callbacks.py  booking a callback at a time the queue can keep, its SMS and the replies to it,
                  and handing due callbacks to agents
    handoff.py    what a call's dialog asks of the queue (assistant/dialog/handoff.py, callback.py)
    settings.py   config.yml `queue:`
    cli.py        `assistant queue ...`

Everything is state in the assistant's database (tickets: assistant/storage/tickets.py; SQLite, or PostgreSQL by URL),
so any process that opens it sees the same queue, and nothing is lost when one stops.
"""

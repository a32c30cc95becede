"""The agent desktop (`assistant serve`): a web app over the hand-off queue for agents and supervisors.

    settings.py   config.yml `desktop:`
    accounts.py   desk users (an agent is a queue agent too), scrypt passwords, session tokens, the
                  login throttle
    board.py      what the desks show of the queue: the snapshot, its change fingerprint, an agent's call
                  (with the catalog's titles and the slot values as the dialog says them)
    stats.py      supervisor figures over a time window: service level, speed of answer, abandonment,
                  callbacks kept, containment, per-hour series
    live.py       pushing the snapshot over a WebSocket whenever any process changes the queue, while
                  the socket's session lasts
    scheduler.py  handing due callbacks to available agents in the background, every `dispatch_s`
    services.py   the above, built once per app from config.yml and a database
    auth.py       the session cookie; what agents and supervisors may do
    guard.py      what every request passes: the same-origin check on changes (CSRF), body size and
                  type limits, the security headers on every answer
    schemas.py    the API's request and response bodies
    api.py        the JSON API under /api
    app.py        `create_app(config, database, clock)`: pages, API, WebSocket, offline API docs, and the
                  scheduler for as long as the server runs
    cli.py        `assistant desk add-user`, `assistant serve`
    static/       the pages (login, agent desktop, supervisor view): HTML, CSS and plain JavaScript

All state is in the assistant's database (SQLite, or PostgreSQL for several servers), so any number
of servers and the dialog share one queue, users and sessions.
"""

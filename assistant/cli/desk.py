"""`assistant desk add-user` and `assistant serve`. The web stack is imported by the commands that
use it only, so that other `assistant` commands do not pay for it."""
from __future__ import annotations

import logging
import sys
from typing import Optional

import typer

from assistant.core.errors import AssistantError
from assistant.runtime.desk import Desk
from assistant.storage.calls import database_location
from domain.config import load_config

desk_app = typer.Typer(no_args_is_help=True, help="The agent desktop's users.")
DATABASE_HELP = "a SQLite file or a postgresql:// URL (default: $ASSISTANT_DATABASE, else config.yml dialog.database)"


@desk_app.command("add-user")
def add_user(
    name: str = typer.Argument(..., help="the user's name (an agent's is their queue name too)"),
    role: str = typer.Option(..., "--role", help="agent or supervisor"),
    skills: Optional[str] = typer.Option(None, "--skills", help="an agent's skill groups, comma-separated (needed for a new agent)"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="read the password from the first line of stdin"),
    database: Optional[str] = typer.Option(None, "--database", help=DATABASE_HELP),
) -> None:
    """Add a desk user, or give one a new role and password (their sessions end). An agent is also
    a queue agent with the skills given."""
    from assistant.desktop.accounts import Accounts
    from assistant.desktop.settings import DesktopSettings

    desk = Desk(load_config(), database)
    wanted = desk.skill_list(skills)  # checked before the password is asked for
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    settings = DesktopSettings.from_config(desk.config.section("desktop"))
    user = Accounts(desk.queue, settings).add_user(name, role, password, wanted)
    print(f"{user.name}: {user.role}" + (f", skills {', '.join(desk.queue.agent(user.name).skills)}"
                                         if user.role == "agent" else ""))


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="the address to listen on"),
    port: int = typer.Option(8000, "--port", help="the port to listen on"),
    database: Optional[str] = typer.Option(None, "--database", help=DATABASE_HELP),
) -> None:
    """The agent desktop: a web server for agents (take calls with their context, wrap them up) and
    supervisors (service level and other figures); it hands due callbacks to available agents every
    `desktop.dispatch_s`. Pages at /, the API at /docs."""
    import uvicorn

    from adapters import backend_clock
    from assistant.runtime.desk import desk_app

    logging.getLogger("assistant.runtime").setLevel(logging.INFO)  # which callbacks went to whom
    config = load_config()
    app = desk_app(config, database or database_location(config), backend_clock(config))
    print(f"agent desktop: http://{host}:{port}/ on {app.state.services.queue.db.name}", file=sys.stderr, flush=True)
    try:
        uvicorn.run(app, host=host, port=port, log_level="info")
    except OSError as error:
        raise AssistantError(f"cannot serve on {host}:{port} ({error.strerror})") from error

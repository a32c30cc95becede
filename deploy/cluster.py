"""`deploy/cluster [--workers N]`: the whole scaled-out set on this machine, until Ctrl-C.

    PostgreSQL    $ASSISTANT_DATABASE if it is a postgresql:// URL, else a server of its own
                  (var/cluster/postgres, made on first use, on 127.0.0.1:--postgres-port)
    N workers     `assistant telephony --sip 127.0.0.1:PORT` on that one database, worker-1 .. worker-N
                  ($ASSISTANT_WORKER), SIP ports --first-worker-port, then every --port-step
    Kamailio      deploy/kamailio/kamailio.cfg on 127.0.0.1:--port, dispatching to the workers

Each one's output goes to var/cluster/NAME.log. A worker that stops is reported and the rest go on
(Kamailio sends its calls elsewhere, the others' sweep calls back whom it left waiting); if Kamailio or
PostgreSQL stops, everything stops. Ctrl-C (or SIGTERM) stops everything: Kamailio and the workers first
(SIGTERM; SIGKILL after 60 s), then PostgreSQL.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

DEPLOY = Path(__file__).resolve().parent
REPO = DEPLOY.parent
KAMAILIO_CFG = DEPLOY / "kamailio" / "kamailio.cfg"
HOST = "127.0.0.1"
STOP_S = 60  # a process not stopped this long after SIGTERM is killed
READY_S = 900  # the workers load their models first: minutes on a small machine


def kamailio_config(folder: Path, port: int, workers: dict[str, int], probe_s: int = 5,
                    no_reply_ms: int = 2000) -> Path:
    """kamailio.cfg in `folder`: the shipped configuration on 127.0.0.1:`port`, dispatching to
    `workers` (name -> SIP port on 127.0.0.1), each probed every `probe_s`."""
    listed = folder / "dispatcher.list"
    listed.write_text("".join(f"1 sip:{HOST}:{p} 0 0 duid={name}\n" for name, p in workers.items()))
    cfg = folder / "kamailio.cfg"
    cfg.write_text(f'#!define LISTEN_PORT {port}\n#!define DISPATCHER_LIST "{listed}"\n#!define PROBE_S {probe_s}\n'
                   f'#!define NO_REPLY_MS {no_reply_ms}\n#!include_file "{KAMAILIO_CFG}"\n')
    return cfg


class Cluster:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: list[IO[bytes]] = []

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None, user: str | None = None) -> None:
        log = open(self.folder / f"{name}.log", "ab")
        self.logs.append(log)
        # a process group of its own: Ctrl-C reaches this script only, which stops the rest in order
        self.processes[name] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                                env=env, start_new_session=True, user=user, group=user)
        print(f"{name}: started (log: {self.folder / name}.log)", flush=True)

    def log_text(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def exited(self) -> list[str]:
        return [name for name, process in self.processes.items() if process.poll() is not None]

    def stop(self, names: list[str], sig: int = signal.SIGTERM) -> None:
        running = {name: self.processes.pop(name) for name in names if name in self.processes}
        for process in running.values():
            if process.poll() is None:
                process.send_signal(sig)
        deadline = time.monotonic() + STOP_S
        for name, process in running.items():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"{name}: not stopped after {STOP_S} s: killed", flush=True)
                process.kill()
                process.wait()
            print(f"{name}: stopped ({process.returncode})", flush=True)

    def close(self) -> None:
        for log in self.logs:
            log.close()


def own_postgres(cluster: Cluster, port: int) -> str:
    """A PostgreSQL server of the cluster's own in var/cluster/postgres (made on first use); its URL."""
    bin_dir = postgres_bin()
    data = cluster.folder / "postgres"
    owner = "postgres" if os.geteuid() == 0 else None  # PostgreSQL refuses to run as root
    if not (data / "PG_VERSION").exists():
        data.mkdir(parents=True, exist_ok=True)
        if owner:
            shutil.chown(data, owner, owner)
        subprocess.run([str(bin_dir / "initdb"), "-D", str(data), "-U", "assistant", "--auth=trust", "-E", "UTF8",
                        "--locale=C.UTF-8"], check=True, stdout=subprocess.DEVNULL, user=owner, group=owner)
    cluster.start("postgres", [str(bin_dir / "postgres"), "-D", str(data), "-p", str(port),
                               "-c", f"listen_addresses={HOST}", "-c", f"unix_socket_directories={data}"], user=owner)
    deadline = time.monotonic() + 60
    ready = [str(bin_dir / "pg_isready"), "-q", "-h", HOST, "-p", str(port), "-U", "assistant"]
    while subprocess.run(ready).returncode:
        if time.monotonic() > deadline or cluster.exited():
            raise SystemExit(f"PostgreSQL did not start: see {cluster.folder / 'postgres.log'}")
        time.sleep(0.5)
    created = subprocess.run([str(bin_dir / "createdb"), "-h", HOST, "-p", str(port), "-U", "assistant",
                              "assistant"], capture_output=True, text=True)
    if created.returncode != 0 and "already exists" not in created.stderr:
        raise SystemExit(f"createdb: {created.stderr.strip()}")
    return f"postgresql://assistant@{HOST}:{port}/assistant"


def postgres_bin() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name))
    if versions:
        return versions[-1].parent
    found = shutil.which("postgres")
    if found is None:
        raise SystemExit("PostgreSQL is not installed (Debian: apt-get install postgresql), "
                         "or set ASSISTANT_DATABASE to a postgresql:// URL")
    return Path(found).parent


def main() -> int:
    parser = argparse.ArgumentParser(prog="deploy/cluster", description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="telephony workers (default 2)")
    parser.add_argument("--port", type=int, default=5060, help="Kamailio's SIP port on 127.0.0.1 (default 5060)")
    parser.add_argument("--first-worker-port", type=int, default=5070, help="worker-1's SIP port (default 5070)")
    parser.add_argument("--port-step", type=int, default=200,
                        help="between two workers' SIP ports: each one's RTP takes those above it (default 200)")
    parser.add_argument("--postgres-port", type=int, default=54329, help="the own PostgreSQL's port (default 54329)")
    args = parser.parse_args()
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if shutil.which("kamailio") is None:
        raise SystemExit("kamailio is not installed (Debian: apt-get install kamailio)")
    assistant = REPO / ".venv" / "bin" / "assistant"
    if not assistant.exists():
        raise SystemExit(f"{assistant} is missing: run ./run setup first")
    folder = REPO / "var" / "cluster"
    folder.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(folder)
    stopping: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda number, _: stopping.append(number))
    workers = {f"worker-{i + 1}": args.first_worker_port + i * args.port_step for i in range(args.workers)}
    try:
        database = os.environ.get("ASSISTANT_DATABASE", "")
        if not database.startswith(("postgresql://", "postgres://")):
            database = own_postgres(cluster, args.postgres_port)
        env = {k: v for k, v in os.environ.items() if k != "ASSISTANT_WORKER"} | {"ASSISTANT_DATABASE": database}
        for name, port in workers.items():
            cluster.start(name, [str(assistant), "telephony", "--sip", f"{HOST}:{port}"],
                          env | {"ASSISTANT_WORKER": name})
        deadline = time.monotonic() + READY_S
        waiting = set(workers)
        while waiting and not stopping:
            waiting = {name for name in waiting if f"worker {name}: heartbeat" not in cluster.log_text(name)}
            if failed := [name for name in waiting if name in cluster.exited()]:
                raise SystemExit(f"{', '.join(failed)} stopped while starting: see {folder}/")
            if time.monotonic() > deadline:
                raise SystemExit(f"{', '.join(sorted(waiting))} not listening after {READY_S} s: see {folder}/")
            time.sleep(1)
        if not stopping:
            cluster.start("kamailio", ["kamailio", "-DD", "-E", "-f", str(kamailio_config(folder, args.port, workers)),
                                       "-w", str(folder)])
            print(f"calls to sip:anyone@{HOST}:{args.port}: {len(workers)} workers on {database.split('@')[-1]}; "
                  "Ctrl-C stops everything", flush=True)
        reported: set[str] = set()
        while not stopping:
            ended = set(cluster.exited())
            for name in sorted(ended - reported):
                print(f"{name}: exited ({cluster.processes[name].returncode})", flush=True)
            reported |= ended
            if ended & {"kamailio", "postgres"} or ended >= set(workers):
                return 1
            time.sleep(1)
        return 0
    finally:
        cluster.stop(["kamailio", *workers])
        cluster.stop(["postgres"], signal.SIGINT)  # PostgreSQL's fast shutdown
        cluster.close()


if __name__ == "__main__":
    sys.exit(main())

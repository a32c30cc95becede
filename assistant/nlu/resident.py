"""One resident NLU process per trained model, shared by every command.

Importing TensorFlow and Rasa alone takes ~20 s here, so commands do not load the model themselves:
they talk to a background process over a Unix socket named after the model's hash
(var/nlu/<hash>.sock). The first command starts it; later ones connect at once. A retrained model has
a new hash and so gets a new process; an idle one exits by itself.

One request is a line of JSON, {"text": ...}; the answer a line of JSON, the parse or {"error": ...}.
The process sheds what it must not parse: a text over MAX_TEXT_CHARS (DIET's attention grows with the
square of the tokens: 17,069 tokens asked for 10 GB) and a line that is not such a request are
answered with an error, and the connection goes on serving.
"""
from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from assistant.core.errors import AssistantError
from assistant.nlu.train import sidecar

IDLE_EXIT_S = 2 * 3600
START_TIMEOUT_S = 240
MAX_TEXT_CHARS = 1000  # what the process parses; callers bound utterances well below (config.yml limits:)
MAX_LINE_BYTES = 16 * MAX_TEXT_CHARS  # a request's line, JSON escapes included; a longer one is not read

log = logging.getLogger(__name__)


class NluRefused(AssistantError):
    """The NLU process answered a request with an error instead of a parse."""


def socket_for(model: Path) -> Path:
    return sidecar(model, ".sock")


# Parsed both ways when a model is loaded: the direct path is used only if it agrees with Rasa on these.
PROBES = ("我想买入股票", "给李四转账500元", "明天上午十点回电话", "你好")


class RasaParser:
    """The model itself, in this process."""

    def __init__(self, model: Path, tf_threads: int | None = None) -> None:
        """`tf_threads`: TensorFlow's thread pools for the whole process (only before its first op)."""
        from assistant.nlu import fastload

        fastload.quiet_rasa()
        fastload.install()
        if tf_threads:
            import tensorflow as tf

            tf.config.threading.set_intra_op_parallelism_threads(tf_threads)
            tf.config.threading.set_inter_op_parallelism_threads(tf_threads)
        from rasa.core.agent import Agent

        from assistant.nlu.direct import DirectParser

        self.loop = asyncio.new_event_loop()
        self.agent = Agent.load(str(model))
        self.direct = DirectParser.create(self.agent, PROBES, self.parse_with_rasa)

    def parse(self, text: str) -> dict[str, Any]:
        return self.direct.parse(text) if self.direct else self.parse_with_rasa(text)

    def parse_with_rasa(self, text: str) -> dict[str, Any]:
        """Through Rasa's own `Agent.parse_message`: the reference `parse` must equal."""
        return self.loop.run_until_complete(self.agent.parse_message(text))


def serve(model: Path, path: Path | None = None) -> None:
    """Run the resident process (blocks) on `path` (the model's own socket by default); exits after
    IDLE_EXIT_S without a request."""
    # This process only parses, and DIET's ~800 small ops run faster on one thread than handed between
    # two: 0.3-0.6 ms less per parse on two cores, busy or not (measured interleaved with two threads).
    # Confidences differ from a two-thread process's by < 1e-6 (TensorFlow sums in another order).
    parser = RasaParser(model, tf_threads=1)
    path = path or socket_for(model)
    path.unlink(missing_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(16)
    server.settimeout(IDLE_EXIT_S)
    lock = threading.Lock()  # one parse at a time: the model is not thread-safe
    clients: set[threading.Thread] = set()

    def handle(conn: socket.socket) -> None:
        try:
            with conn, conn.makefile("rwb") as stream:
                while line := _read_request(stream):
                    stream.write(_answer(line, parser, lock))
                    stream.flush()
        except OSError:
            pass  # the client went away mid-answer
        finally:
            clients.discard(threading.current_thread())

    try:
        while True:
            try:
                conn, _ = server.accept()
            except socket.timeout:
                if not clients:
                    return
                continue
            thread = threading.Thread(target=handle, args=(conn,), daemon=True)
            clients.add(thread)
            thread.start()
    finally:
        path.unlink(missing_ok=True)


def _read_request(stream: Any) -> bytes:
    """The next request line; an over-long one comes back as its first MAX_LINE_BYTES (no newline),
    the rest of it read and dropped. b"" at the end of the stream."""
    line = stream.readline(MAX_LINE_BYTES + 1)
    if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
        while (rest := stream.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
            pass
        return line[:MAX_LINE_BYTES]
    return line


def _answer(line: bytes, parser: Any, lock: threading.Lock) -> bytes:
    """The answer to one request line: the parse, or an error for what is not parsed."""
    try:
        text = _request_text(line)
    except ValueError as problem:
        return _error_line(str(problem))
    try:
        with lock:
            result = parser.parse(text)
    except Exception as error:  # noqa: BLE001 - one bad parse must not take the process down for every call
        log.exception("parse failed")
        return _error_line(f"parse failed: {type(error).__name__}")
    return _json_line(result)


def _request_text(line: bytes) -> str:
    """The text a request line asks to parse; ValueError says why it is refused."""
    if not line.endswith(b"\n"):  # over-long (cut by _read_request), or the stream ended mid-line
        raise ValueError(f"a request is one line of at most {MAX_LINE_BYTES} bytes")
    try:
        request = json.loads(line)
    except ValueError:
        raise ValueError("a request is a line of JSON") from None
    text = request.get("text") if isinstance(request, dict) else None
    if not isinstance(text, str):
        raise ValueError('a request is {"text": "..."}')
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"a text of {len(text)} characters is over the limit of {MAX_TEXT_CHARS}")
    return text


def _error_line(problem: str) -> bytes:
    log.warning("refused a request: %s", problem)
    return json.dumps({"error": problem}).encode() + b"\n"


def _json_line(result: dict[str, Any]) -> bytes:
    """What the assistant uses of a parse, as a line of JSON (numpy numbers written as floats)."""
    keep = ("text", "intent", "entities", "intent_ranking")
    return json.dumps({k: result.get(k) for k in keep}, ensure_ascii=False, default=float).encode() + b"\n"


class ResidentNlu:
    """Client of the resident process; starts it when it is not running."""

    def __init__(self, model: Path, on_wait: Any = None) -> None:
        self.model = model
        self.path = socket_for(model)
        self.sock = self._connect() or self._start_once(on_wait)
        self.stream = self.sock.makefile("rwb")

    def parse(self, text: str) -> dict[str, Any]:
        self.stream.write(json.dumps({"text": text}, ensure_ascii=False).encode() + b"\n")
        self.stream.flush()
        line = self.stream.readline()
        if not line:
            raise AssistantError("the NLU process closed the connection; see var/nlu/server.log")
        answer = json.loads(line)
        if "error" in answer:
            raise NluRefused(f"the NLU process refused the text: {answer['error']}")
        return answer

    def close(self) -> None:
        self.stream.close()
        self.sock.close()

    def _connect(self) -> socket.socket | None:
        if not self.path.exists():
            return None
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(self.path))
        except OSError:
            sock.close()
            return None
        return sock

    def _start_once(self, on_wait: Any) -> socket.socket:
        """Several commands (telephony workers, a test run) starting at once start one process: the
        first starts it under a lock, the others then find its socket."""
        with sidecar(self.model, ".start.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return self._connect() or self._start(on_wait)

    def _start(self, on_wait: Any) -> socket.socket:
        log = self.model.with_name("server.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "assistant.nlu.serve", str(self.model)],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives this command
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if on_wait:
                on_wait()
            sock = self._connect()
            if sock:
                return sock
            if process.poll() is not None:
                raise AssistantError(f"the NLU process failed to start; see {log.name}")
            time.sleep(0.2)
        process.kill()
        raise AssistantError(f"the NLU process did not start within {START_TIMEOUT_S} s; see {log.name}")

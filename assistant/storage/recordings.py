"""Call recordings: every call as a stereo WAV file at the call's rate, the caller on the left as
received, on the right what was sent, both on the call's clock; and the table `recordings` beside the
calls (call id → file, duration) that the desk links tickets to and old recordings are deleted by.

The file is written as the call goes: its header counts what has been written after every append, so
a process that dies leaves a valid WAV of the call up to then. Audio is written `HOLD_S` behind the
latest audio of either direction, so a frame of the other one arriving a little later still lands in
its place.

From the turn that asks for a PIN until the next turn, both directions are written as silence of the
same length: the timeline stays, and no PIN is heard, whether keyed as in-band tones or said.
"""
from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from assistant.core.audio import Audio, resample
from assistant.core.frames import AudioChunk
from assistant.core.recording import AWAITING_PIN
from assistant.core.turn import Turn
from assistant.storage.database import Database
from assistant.storage.tickets import Stamp

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS recordings (call_id TEXT PRIMARY KEY REFERENCES calls, path TEXT NOT NULL,
    started_at TEXT NOT NULL, duration_s REAL);
CREATE INDEX IF NOT EXISTS recordings_started_at ON recordings (started_at);
"""
HOLD_S = 1.0
_LEFT, _RIGHT = 0, 1
_HEADER = struct.Struct("<4sI4s4sIHHIIHH4sI")  # RIFF, fmt (PCM) and data chunk headers: 44 bytes


@dataclass(frozen=True)
class RecordingSettings:
    """config.yml `recording:`."""

    enabled: bool = False
    folder: Path = Path("var/recordings")
    retention_days: float = 90.0
    every_s: float = 3600.0  # how often recordings past their retention are looked for

    @classmethod
    def from_config(cls, section: dict[str, Any], root: Path) -> RecordingSettings:
        folder = Path(section.get("folder", cls.folder))
        return cls(bool(section.get("enabled", cls.enabled)), folder if folder.is_absolute() else root / folder,
                   float(section.get("retention_days", cls.retention_days)), float(section.get("every_s", cls.every_s)))


@dataclass(frozen=True)
class Recording:
    call_id: str
    path: Path
    started_at: str
    duration_s: float | None  # None while the call goes on (or when it ended with its process)


class Recordings:
    """The `recordings` table, in the call store's database (which already holds `calls`)."""

    def __init__(self, db: Database, stamp: Stamp) -> None:
        self.db = db
        self.stamp = stamp
        db.script(SCHEMA)

    def add(self, call_id: str, path: Path) -> None:
        self.db.execute("INSERT INTO recordings (call_id, path, started_at) VALUES (?, ?, ?)",
                        (call_id, str(path), self.stamp()))

    def finish(self, call_id: str, duration_s: float) -> None:
        self.db.execute("UPDATE recordings SET duration_s = ? WHERE call_id = ?", (duration_s, call_id))

    def of_call(self, call_id: str) -> Recording | None:
        row = self.db.row("SELECT * FROM recordings WHERE call_id = ?", (call_id,))
        return _recording(row) if row else None

    def of_ticket(self, ticket: int) -> Recording | None:
        """The recording of the call a hand-off ticket came from."""
        row = self.db.row("SELECT r.* FROM recordings r JOIN handoffs h ON h.call_id = r.call_id WHERE h.id = ?",
                          (ticket,))
        return _recording(row) if row else None

    def started_before(self, moment: str) -> list[Recording]:
        """Recordings of calls that started before `moment` (a database time stamp), oldest first."""
        rows = self.db.rows("SELECT * FROM recordings WHERE started_at < ? ORDER BY started_at", (moment,))
        return [_recording(row) for row in rows]

    def forget(self, call_id: str) -> None:
        self.db.execute("DELETE FROM recordings WHERE call_id = ?", (call_id,))


def _recording(row: dict[str, Any]) -> Recording:
    return Recording(row["call_id"], Path(row["path"]), row["started_at"], row["duration_s"])


class StereoWav:
    """A 16-bit stereo WAV file that is valid after every append."""

    def __init__(self, path: Path, rate: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.rate = rate
        self.frames = 0  # stereo samples written
        self._file: BinaryIO = open(path, "wb")  # noqa: SIM115 (open for the length of the call)
        self._write_header()

    @property
    def seconds(self) -> float:
        return self.frames / self.rate

    def append(self, left: bytes, right: bytes) -> None:
        """Equal lengths of 16-bit mono PCM, one per channel."""
        samples = np.empty(len(left), dtype="<i2")
        samples[0::2] = np.frombuffer(left, dtype="<i2")
        samples[1::2] = np.frombuffer(right, dtype="<i2")
        self._file.write(samples.tobytes())
        self.frames += len(left) // 2
        self._write_header()

    def close(self) -> None:
        self._file.close()

    def _write_header(self) -> None:
        data = self.frames * 4
        self._file.seek(0)
        self._file.write(_HEADER.pack(b"RIFF", 36 + data, b"WAVE", b"fmt ", 16, 1, 2, self.rate, self.rate * 4, 4, 16,
                                      b"data", data))
        self._file.seek(0, 2)
        self._file.flush()


class CallRecorder:
    """A call's tap (assistant/core/recording.py) writing the call to a StereoWav (see the module's text).
    `closed` gets the recording's length in seconds when the call is over."""

    def __init__(self, wav: StereoWav, closed: Callable[[float], None]) -> None:
        self.wav = wav
        self.closed = closed
        self.muted = False
        self._pending = (bytearray(), bytearray())  # each channel from sample `wav.frames` on
        self._ends = [0, 0]  # where each channel's latest audio ends (samples since the call started)
        self._caller_lag: int | None = None  # samples the caller's stream time runs behind the call's clock
        self._broken = False

    def heard(self, chunk: AudioChunk, at: float) -> None:
        pcm = chunk.pcm if chunk.sample_rate == self.wav.rate else resample(Audio(chunk.pcm, chunk.sample_rate),
                                                                            self.wav.rate).pcm
        start = round(chunk.t * self.wav.rate)
        if self._caller_lag is None:  # the transport's stream may have started after the call did
            self._caller_lag = max(0, round(at * self.wav.rate) - start)
        self._put(_LEFT, pcm, start + self._caller_lag)

    def said(self, pcm: bytes, t: float) -> None:
        self._put(_RIGHT, pcm, round(t * self.wav.rate))

    def turn(self, turn: Turn) -> None:
        self.muted = turn.awaiting == AWAITING_PIN

    def close(self) -> None:
        self._write(max(len(p) for p in self._pending) // 2)
        self.wav.close()
        self.closed(self.wav.seconds)

    def _put(self, channel: int, pcm: bytes, start: int) -> None:
        if self._broken:
            return
        if self.muted:
            pcm = bytes(len(pcm))
        if start < self.wav.frames:  # later than HOLD_S: right after what this channel has so far
            start = max(self.wav.frames, self._ends[channel])
        self._ends[channel] = start + len(pcm) // 2
        pending = self._pending[channel]
        at, end = (start - self.wav.frames) * 2, (self._ends[channel] - self.wav.frames) * 2
        if len(pending) < end:
            pending.extend(bytes(end - len(pending)))
        pending[at:end] = pcm
        self._write(max(self._ends) - self.wav.frames - round(HOLD_S * self.wav.rate))

    def _write(self, frames: int) -> None:
        """The next `frames` samples of both channels to the file (silence where a channel has none)."""
        if frames <= 0 or self._broken:
            return
        size = frames * 2
        left, right = (bytes(p[:size]).ljust(size, b"\0") for p in self._pending)
        for pending in self._pending:
            del pending[:size]
        try:
            self.wav.append(left, right)
        except OSError as error:  # a full disk must not end the call: the recording stops where it was
            log.error("recording %s stopped: %s", self.wav.path, error)
            self._broken = True

"""The call flow: frames pushed through a list of small processors.

    Pipeline([Vad(...), Transcriber(...), UnderstandingStage(...), Responder(...), Speaker(...), output])

Each processor gets every frame and yields the frames to pass on: the ones it does not handle
unchanged, plus whatever it produces. A WAV file, the local microphone, a typed line and (later) a
network call all enter through `Pipeline.push`, so the middle never knows where audio came from.
Interruption overtakes nothing here because processing is synchronous: the output end plays audio on
its own thread and drops what it has queued when an Interruption reaches it.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

from assistant.core.frames import Frame


class Processor:
    """One stage. Override `process`; the default passes every frame on."""

    def process(self, frame: Frame) -> Iterable[Frame]:
        yield frame

    def far_end_gone(self) -> None:
        """The caller hung up (called from another thread, while a frame may be in `process`): work done
        only for the caller to hear may stop early. The EndOfCall that follows still comes through."""


class Pipeline:
    def __init__(self, processors: list[Processor]) -> None:
        self.processors = processors

    def far_end_gone(self) -> None:
        for processor in self.processors:
            processor.far_end_gone()

    def push(self, frame: Frame) -> list[Frame]:
        """Run one frame through every stage; returns what came out of the last one."""
        return list(self._run(frame, 0))

    def _run(self, frame: Frame, stage: int) -> Iterator[Frame]:
        if stage == len(self.processors):
            yield frame
            return
        for out in self.processors[stage].process(frame):
            yield from self._run(out, stage + 1)

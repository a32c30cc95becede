"""The local sound card as the two ends of a call: microphone in, loudspeaker out.

    sink = LoudspeakerSink(16000)                          # a live call (CallSession): 20 ms frames in
    session = voice.open_call(CallStarted(...), sink, observe)
    await converse(session, Microphone(16000))            # until someone pushes EndOfCall
    sink.close()

`Loudspeaker` is the same output as a Processor, for calls driven synchronously (a recording, typed
lines). Both write to the device 20 ms at a time from a buffer, on a thread of their own, so dropping
what is not played yet (barge-in) is immediate.

Two backends: sounddevice (default) and PyAudio. Both wrap PortAudio, so on Linux they reach ALSA or
PulseAudio devices alike (a PulseAudio null sink works in tests).
"""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from assistant.core.audio import Audio, resample
from assistant.core.errors import AssistantError
from assistant.core.frames import AudioChunk, EndOfCall, Frame, Interruption, SynthesizedAudio
from assistant.core.pipeline import Processor
from assistant.core.session import FRAME_S, CallSession

BACKENDS = ("sounddevice", "pyaudio")


def _check(backend: str) -> None:
    if backend not in BACKENDS:
        raise AssistantError(f"audio backend {backend!r} is not one of {', '.join(BACKENDS)}")


class _Stream:
    """One mono 16-bit PortAudio stream on either backend: an input stream hands `record` each block
    of `frames` on PortAudio's own thread; an output stream (no `record`) is written to, blocking."""

    def __init__(self, backend: str, rate: int, frames: int, device: str | None,
                 record: Callable[[bytes], None] | None = None, paced: bool = False) -> None:
        """`paced`: an output fed in real time (a live call), opened at low latency (_open_sounddevice)."""
        self.write: Callable[[bytes], object]
        self._close: Callable[[], object]
        if backend == "sounddevice":
            self._open_sounddevice(rate, frames, device, record, paced)
        else:
            self._open_pyaudio(rate, frames, device, record)

    def close(self) -> None:
        self._close()

    def _open_sounddevice(self, rate: int, frames: int, device: str | None,
                          record: Callable[[bytes], None] | None, paced: bool) -> None:
        import sounddevice as sd

        settings: dict[str, Any] = dict(samplerate=rate, channels=1, dtype="int16", device=device)
        if record is None:
            # fed 20 ms at a time in real time, a device left at its high-latency default waits to
            # refill a large buffer after each underrun and plays in bursts: a paced output takes
            # blocks of one frame at low latency
            stream = (sd.RawOutputStream(**settings, blocksize=frames, latency="low") if paced
                      else sd.RawOutputStream(**settings))
            self.write = stream.write
        else:
            stream = sd.RawInputStream(**settings, blocksize=frames, callback=lambda data, *_: record(bytes(data)))
        try:
            stream.start()
        except BaseException:
            stream.close()
            raise
        self._close = lambda: (stream.stop(), stream.close())

    def _open_pyaudio(self, rate: int, frames: int, device: str | None,
                      record: Callable[[bytes], None] | None) -> None:
        import pyaudio

        pa = pyaudio.PyAudio()
        try:
            index = int(device) if device else None
            if index is not None:
                pa.get_device_info_by_index(index)  # raises on an unknown index; opening one segfaults
            if record is None:
                stream = pa.open(format=pyaudio.paInt16, channels=1, rate=rate, output=True, output_device_index=index)
                self.write = stream.write
            else:
                stream = pa.open(format=pyaudio.paInt16, channels=1, rate=rate, input=True, input_device_index=index,
                                 frames_per_buffer=frames,
                                 stream_callback=lambda data, *_: (record(data), (None, pyaudio.paContinue))[1])
        except BaseException:
            pa.terminate()
            raise
        self._close = lambda: (stream.stop_stream(), stream.close(), pa.terminate())


class Microphone:
    """The default (or named) input device, handing AudioChunks of `chunk_ms` to a callback."""

    def __init__(self, sample_rate: int, chunk_ms: int = 30, backend: str = "sounddevice", device: str | None = None) -> None:
        _check(backend)
        self.rate, self.backend, self.device = sample_rate, backend, device
        self.frames = sample_rate * chunk_ms // 1000

    @contextmanager
    def open(self, heard: Callable[[AudioChunk], None]) -> Iterator[None]:
        """Records while inside; `heard` is called on PortAudio's thread with each chunk, timed by its
        position in the stream."""
        t = 0.0

        def record(pcm: bytes) -> None:
            nonlocal t
            heard(AudioChunk(pcm, self.rate, t))
            t += len(pcm) / 2 / self.rate

        try:
            stream = _Stream(self.backend, self.rate, self.frames, self.device, record)
        except Exception as error:  # PortAudio reports a missing device in many ways
            raise AssistantError(f"cannot open the microphone ({self.backend}): {error}; try --text or --wav") from error
        try:
            yield
        finally:
            stream.close()


class _Playback:
    """The default (or named) output device, written 20 ms at a time on a thread of its own from a
    buffer, so that dropping what is not played yet leaves at most one frame and the device's own
    buffer to hear."""

    def __init__(self, sample_rate: int, backend: str, device: str | None, paced: bool = False) -> None:
        _check(backend)
        self.step = int(sample_rate * FRAME_S) * 2
        self.buffer = bytearray()
        self.ready = threading.Condition()
        self.closing = False
        self.drained = threading.Event()  # set when everything given so far has been written to the device
        self.drained.set()
        try:
            self.stream = _Stream(backend, sample_rate, self.step // 2, device, paced=paced)
        except Exception as error:  # no sound card, no PulseAudio server, ...
            raise AssistantError(f"cannot open the loudspeaker ({backend}): {error}") from error
        self.thread = threading.Thread(target=self._write, name="loudspeaker", daemon=True)
        self.thread.start()

    def play(self, pcm: bytes) -> None:
        with self.ready:
            self.buffer += pcm
            self.drained.clear()
            self.ready.notify()

    def drop(self) -> None:
        """Whatever is not played yet is never played."""
        with self.ready:
            self.buffer.clear()

    def close(self) -> None:
        """Stops at once (what is still buffered is dropped) and closes the device."""
        with self.ready:
            self.closing = True
            self.buffer.clear()
            self.ready.notify()
        self.thread.join()

    def _write(self) -> None:
        try:
            while True:
                with self.ready:
                    while not self.buffer and not self.closing:
                        self.drained.set()
                        self.ready.wait()
                    if self.closing:
                        return
                    pcm = bytes(self.buffer[:self.step])
                    del self.buffer[:self.step]
                self.stream.write(pcm)
        finally:
            self.stream.close()
            self.drained.set()


class Loudspeaker(Processor):
    """Plays SynthesizedAudio as it comes; an Interruption drops whatever is not played yet; EndOfCall
    waits for the rest to play, then closes the device."""

    def __init__(self, sample_rate: int = 16000, backend: str = "sounddevice", device: str | None = None) -> None:
        self.rate = sample_rate
        self.playback = _Playback(sample_rate, backend, device)

    @property
    def idle(self) -> threading.Event:
        """Set when all the audio given so far has gone to the device."""
        return self.playback.drained

    def process(self, frame: Frame) -> Iterator[Frame]:
        if isinstance(frame, SynthesizedAudio):
            self.playback.play(resample(Audio(frame.pcm, frame.sample_rate), self.rate).pcm)
        elif isinstance(frame, Interruption):
            self.playback.drop()
        elif isinstance(frame, EndOfCall):
            self.playback.drained.wait()
            self.playback.close()
        yield frame


class LoudspeakerSink:
    """A live call's AudioSink on the loudspeaker: the session paces 20 ms frames in, at most 100 ms
    ahead of the device, and a barge-in drops what the device has not played yet."""

    def __init__(self, sample_rate: int = 16000, backend: str = "sounddevice", device: str | None = None) -> None:
        self.playback = _Playback(sample_rate, backend, device, paced=True)

    async def send(self, pcm: bytes) -> None:
        self.playback.play(pcm)

    async def clear(self) -> None:
        self.playback.drop()

    def close(self) -> None:
        self.playback.close()


async def converse(session: CallSession, microphone: Microphone) -> None:
    """Runs a live call with the microphone feeding it, until the call ends (EndOfCall pushed, or a
    processor failed). Each chunk goes from PortAudio's thread to the event loop, where the session
    queues it: a slow decode holds up the call's processors, never the microphone. A microphone that
    cannot be opened hangs the call up (its dialog closed) before the error goes on."""
    loop = asyncio.get_running_loop()
    running = asyncio.create_task(session.run())  # the greeting starts at once
    try:
        with microphone.open(lambda chunk: loop.call_soon_threadsafe(session.push, chunk)):
            await asyncio.shield(running)
    finally:
        session.push(EndOfCall())  # nothing once the call has ended
        await running

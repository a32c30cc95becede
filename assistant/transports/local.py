"""The local sound card as the two ends of the pipeline: microphone in, loudspeaker out.

Two backends behind the same small classes: sounddevice (default) and PyAudio. Both wrap PortAudio,
so on Linux they reach ALSA or PulseAudio devices alike (a PulseAudio null sink works in tests).
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

from assistant.core.audio import Audio, resample
from assistant.core.errors import AssistantError
from assistant.core.frames import AudioChunk, EndOfCall, Frame, Interruption, SynthesizedAudio
from assistant.core.pipeline import Processor

BACKENDS = ("sounddevice", "pyaudio")


def _check(backend: str) -> None:
    if backend not in BACKENDS:
        raise AssistantError(f"audio backend {backend!r} is not one of {', '.join(BACKENDS)}")


class Microphone:
    """Yields AudioChunks of `chunk_ms` from the default input device until `stop()`."""

    def __init__(self, sample_rate: int, chunk_ms: int = 30, backend: str = "sounddevice", device: str | None = None) -> None:
        _check(backend)
        self.rate, self.backend, self.device = sample_rate, backend, device
        self.frames = sample_rate * chunk_ms // 1000
        self.chunks: queue.Queue[bytes | None] = queue.Queue()

    def stop(self) -> None:
        self.chunks.put(None)

    def __iter__(self) -> Iterator[AudioChunk]:
        with self._open():
            t = 0.0
            while (pcm := self.chunks.get()) is not None:
                yield AudioChunk(pcm, self.rate, t)
                t += len(pcm) / 2 / self.rate

    def _open(self):  # noqa: ANN202 - a context manager of either backend
        try:
            if self.backend == "sounddevice":
                import sounddevice as sd

                return sd.RawInputStream(
                    samplerate=self.rate, channels=1, dtype="int16", blocksize=self.frames, device=self.device,
                    callback=lambda data, *_: self.chunks.put(bytes(data)),
                )
            return _PyAudioInput(self)
        except Exception as error:  # PortAudio reports a missing device in many ways
            raise AssistantError(f"cannot open the microphone ({self.backend}): {error}; try --text or --wav") from error


class _PyAudioInput:
    def __init__(self, mic: Microphone) -> None:
        import pyaudio

        self.pa = pyaudio.PyAudio()
        index = int(mic.device) if mic.device else None
        if index is not None:
            self.pa.get_device_info_by_index(index)  # raises on an unknown index; opening one segfaults
        self.stream = self.pa.open(
            format=pyaudio.paInt16, channels=1, rate=mic.rate, input=True, frames_per_buffer=mic.frames,
            input_device_index=index,
            stream_callback=lambda data, *_: (mic.chunks.put(data), (None, pyaudio.paContinue))[1],
        )

    def __enter__(self) -> _PyAudioInput:
        self.stream.start_stream()
        return self

    def __exit__(self, *_: object) -> None:
        self.stream.stop_stream()
        self.stream.close()
        self.pa.terminate()


class Loudspeaker(Processor):
    """Plays SynthesizedAudio on its own thread; an Interruption drops whatever is not played yet."""

    def __init__(self, sample_rate: int = 16000, backend: str = "sounddevice", device: str | None = None) -> None:
        _check(backend)
        self.rate, self.backend, self.device = sample_rate, backend, device
        self.pending: queue.Queue[bytes | None] = queue.Queue()
        self.cut = threading.Event()
        self.idle = threading.Event()
        self.idle.set()
        try:
            self.write, self.close = self._open()
        except Exception as error:  # no sound card, no PulseAudio server, ...
            raise AssistantError(f"cannot open the loudspeaker ({backend}): {error}") from error
        self.thread = threading.Thread(target=self._play, daemon=True)
        self.thread.start()

    def process(self, frame: Frame) -> Iterator[Frame]:
        if isinstance(frame, SynthesizedAudio):
            self.idle.clear()
            self.pending.put(resample(Audio(frame.pcm, frame.sample_rate), self.rate).pcm)
        elif isinstance(frame, Interruption):
            self.cut.set()
            while not self.pending.empty():
                self.pending.get_nowait()
        elif isinstance(frame, EndOfCall):
            self.pending.put(None)
            self.thread.join()
        yield frame

    def _play(self) -> None:
        try:
            while (pcm := self.pending.get()) is not None:
                self.cut.clear()
                step = self.rate // 50 * 2  # 20 ms at a time, so barge-in stops playback quickly
                for start in range(0, len(pcm), step):
                    if self.cut.is_set():
                        break
                    self.write(pcm[start : start + step])
                if self.pending.empty():
                    self.idle.set()
        finally:
            self.close()
            self.idle.set()

    def _open(self):  # noqa: ANN202 - (write, close) of either backend
        if self.backend == "sounddevice":
            import sounddevice as sd

            stream = sd.RawOutputStream(samplerate=self.rate, channels=1, dtype="int16", device=self.device)
            stream.start()
            return stream.write, lambda: (stream.stop(), stream.close())
        import pyaudio

        pa = pyaudio.PyAudio()
        stream = pa.open(format=pyaudio.paInt16, channels=1, rate=self.rate, output=True,
                         output_device_index=int(self.device) if self.device else None)
        return stream.write, lambda: (stream.close(), pa.terminate())

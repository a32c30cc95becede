"""What a running assistant holds, loaded once per process, and the call pipeline built from it."""
from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from pathlib import Path
from typing import Any

import scipy.signal  # noqa: F401 - with the voice, not at a call's first resample (audio.py loads it lazily)

from adapters import backend_clock, open_backend
from assistant.catalog.catalog import Catalog
from assistant.catalog.template import names, render
from assistant.core.frames import CallStarted, Frame
from assistant.core.pipeline import Pipeline, Processor
from assistant.core.session import AudioSink, CallSession
from assistant.dialog.dialog import Dialog
from assistant.dialog.responder import Responder
from assistant.dialog.service import DialogService
from assistant.dialog.settings import DialogSettings
from assistant.nlu.normalize import Normalizer
from assistant.nlu.resident import ResidentNlu
from assistant.nlu.scope import ScopeCheck
from assistant.nlu.train import train
from assistant.nlu.understanding import InputLimits, Understanding, UnderstandingStage
from assistant.queue.hold import HoldLine
from assistant.queue.settings import QueueSettings
from assistant.speech.asr.base import Recognizer
from assistant.speech.engines import make_recognizer, make_synthesizer, whisper_prompt
from assistant.speech.speaker import Speaker
from assistant.speech.transcriber import Transcriber
from assistant.speech.tts.base import Synthesizer
from assistant.speech.tts.prompt_cache import PromptCache
from assistant.speech.tts.sentences import split_sentences
from assistant.speech.vad import Vad
from assistant.speech.workers import QueuedSynthesizer, SpeechWorker
from assistant.storage.calls import CallStore, database_location
from assistant.storage.recordings import CallRecorder, Recordings, RecordingSettings, StereoWav
from assistant.transports.wav import HeardRecording, hear_recording
from domain.clock import Clock
from domain.config import Config
from domain.errors import ConfigError
from domain.vocabulary import Vocabulary

# How many names of each kind go into the ASR prompt (lookup tables list the most asked-for first).
_PROMPT_NAMES = {"currency": 4, "bill_type": 6, "stock": 6}


class VoiceService:
    """The voice side of one process: the catalog, the NLU, the shared speech workers and the back end,
    and each call's processors built over them."""

    def __init__(self, config: Config, on_wait: Any = None) -> None:
        self.config = config
        self.on_wait = on_wait  # called while waiting for the NLU process to come up
        self.catalog = Catalog.load(config.intents_dir)
        self.vocabulary = Vocabulary.load(config.nlu_dir)
        self.terms = self.catalog.vocabulary() + self.vocabulary.terms()
        self.normalizer = Normalizer(self.terms, self.catalog.words)
        self._recognizers: dict[int, Recognizer] = {}

    @cached_property
    def understanding(self) -> Understanding:
        limits = InputLimits.from_config(self.config.section("limits"),
                                         self.config.section("dialog").get("pin_length", DialogSettings.pin_length))
        parser = ResidentNlu(train(self.config), on_wait=self.on_wait)
        scope = ScopeCheck.from_data(self.config.nlu_dir)
        return Understanding(parser, self.normalizer, self.vocabulary, self.catalog, scope, self.clock(), limits)

    def recognizer(self, sample_rate: int) -> Recognizer:
        """One per stream rate (vosk decodes at the caller's rate; whisper resamples to 16 kHz)."""
        if sample_rate not in self._recognizers:
            recognizer = make_recognizer(self.config, sample_rate, self.asr_prompt())
            if hasattr(recognizer, "judge"):  # Whisper weighs its runners-up by what the NLU makes of them
                recognizer.judge = self.sureness
            self._recognizers[sample_rate] = recognizer
        return self._recognizers[sample_rate]

    def sureness(self, text: str) -> float:
        """How sure the NLU is that a transcript asks for a function: its confidence; 0 when it names
        none (a fallback, or a dialog act: 是的 misheard as 使等 came out a confident "no", and a wrong
        yes or no costs more than asking again)."""
        result = self.understanding.understand(text)
        return 0.0 if result.function is None else result.confidence

    def asr_prompt(self) -> str:
        functions = self.catalog.functions
        chosen = (self.config.section("asr").get("whisper") or {}).get("prompt_functions") or list(functions)
        if unknown := [f for f in chosen if f not in functions]:
            raise ConfigError(f"config.yml asr.whisper.prompt_functions: no such function in intents/: {', '.join(unknown)}")
        titles = [functions[f].title for f in chosen]
        names = [self.vocabulary.names_in(table)[:n] for table, n in _PROMPT_NAMES.items()]
        return whisper_prompt(titles, names)

    @cached_property
    def synthesizer(self) -> Synthesizer:
        """The configured voice, shared by every call: one sentence at a time on the TTS worker."""
        return QueuedSynthesizer(make_synthesizer(self.config), self.tts_worker)

    @cached_property
    def prompt_cache(self) -> PromptCache:
        synth = self.synthesizer
        return PromptCache(synth, self.config.voices_dir / "cache" / synth.name)

    def fixed_sentences(self) -> frozenset[str]:
        """Every sentence the catalog says word for word: worth synthesising once, at setup."""
        texts = list(self.catalog.replies.values())
        texts += [prompt for name, prompt in self.catalog.prompts.items()
                  if not list(names(prompt)) and not name.startswith("sms_")]  # text messages are never said
        for function in [*self.catalog.functions.values(), *self.catalog.outbound.values()]:
            texts += [slot.prompt for slot in function.slots]
            texts.append(render(function.opening, {}))
            texts += [said for said in function.ends.values() if not list(names(said))]
        return frozenset(s for text in texts for s in split_sentences(text))

    @cached_property
    def dialogs(self) -> DialogService:
        """What every call's dialog shares: the catalog, the back end (config.yml `adapters:`), the call store and
        the hand-off queue in it (config.yml `queue:`)."""
        section = self.config.section("dialog")
        settings = DialogSettings.from_config(section, self.config.section("nlu").get("threshold", DialogSettings.threshold))
        clock = self.clock()
        store = CallStore(database_location(self.config), clock)
        return DialogService(self.catalog, self.vocabulary.display, open_backend(self.config), store, clock, settings,
                      QueueSettings.from_config(self.config.section("queue")))

    def clock(self) -> Clock:
        """The sandbox bank's clock when config.yml pins it, so trading hours agree with the bank."""
        return backend_clock(self.config)

    def dialog(self, caller: str | None = None) -> Dialog:
        return self.dialogs.open(caller)

    def hear_recording(self, path: Path) -> HeardRecording:
        """What the assistant understands of a recording, heard as a call hears it."""
        return hear_recording(self, path)

    def hearing(self, sample_rate: int) -> list[Processor]:
        """Caller audio at `sample_rate` to IntentResult: the stages a call and `nlu test --voice` share."""
        return [Vad(Vad.settings_from(self.config.section("vad")), sample_rate),
                Transcriber(self.recognizer(sample_rate), self.normalizer.normalize, self.asr_worker),
                UnderstandingStage(self.understanding)]

    def stages(self, sample_rate: int, speak: bool = True, caller: str | None = None,
               listen: bool = True, dialog: Dialog | None = None) -> list[Processor]:
        """The processors of one call from `caller` (a phone number, if known), caller audio in at
        `sample_rate`; without `listen`, typed text in instead of audio; `dialog`, if given, is the call's.

            Vad → Transcriber → UnderstandingStage → Responder → Speaker → HoldLine
        """
        stages = self.hearing(sample_rate) if listen else [UnderstandingStage(self.understanding)]
        dialog = dialog or self.dialog(caller)
        stages.append(Responder(dialog, self.catalog))
        if speak:
            speaker = Speaker(self.synthesizer, self.prompt_cache, self.fixed_sentences())
            stages.append(speaker)
            if listen:  # typed text has no audio clock to pace hold audio by
                stages.append(self.hold_line(dialog, speaker))
        return stages

    def pipeline(self, sample_rate: int, outputs: list[Processor], speak: bool = True,
                 caller: str | None = None, listen: bool = True) -> Pipeline:
        """One call's flow driven synchronously, ending in `outputs` (a typed chat, a recording)."""
        return Pipeline(self.stages(sample_rate, speak, caller, listen) + outputs)

    def open_call(self, call: CallStarted, sink: AudioSink | None,
                  observe: Callable[[Frame], None] | None = None) -> CallSession:
        """A live call on the event loop: `await session.run()`, then `session.push(frame)` as audio arrives;
        recorded when config.yml `recording.enabled` says so."""
        dialog = self.dialog(call.caller)
        stages = self.stages(call.sample_rate, speak=True, caller=call.caller, dialog=dialog)
        recorder = self.recorder(dialog.record.call_id, call.sample_rate) if self.recording.enabled else None
        return CallSession(call, stages, sink, self.call_threads, observe, tap=recorder)

    @cached_property
    def recording(self) -> RecordingSettings:
        return RecordingSettings.from_config(self.config.section("recording"), self.config.root)

    @cached_property
    def recordings(self) -> Recordings:
        """The recordings table, in the call store's database."""
        store = self.dialogs.store
        return Recordings(store.db, store.stamp)

    def recorder(self, call_id: str, sample_rate: int) -> CallRecorder:
        """A new recording of the call `call_id` (the call store's id), in a folder per day."""
        recordings = self.recordings
        path = self.recording.folder / recordings.stamp()[:10] / f"{call_id}.wav"
        wav = StereoWav(path, sample_rate)
        recordings.add(call_id, path)
        return CallRecorder(wav, lambda seconds: recordings.finish(call_id, seconds))

    @cached_property
    def call_threads(self) -> ThreadPoolExecutor:
        """The threads calls' processors run in, one per busy call (config.yml `runtime.max_calls`)."""
        limit = int(self.config.section("runtime").get("max_calls", 32))
        return ThreadPoolExecutor(max_workers=limit, thread_name_prefix="call")

    @cached_property
    def asr_worker(self) -> SpeechWorker:
        """The one queue every call's Whisper decodes wait in (batched: config.yml `asr.whisper.batch`)."""
        batch = int((self.config.section("asr").get("whisper") or {}).get("batch", 1))
        return SpeechWorker("asr", batch=batch)

    @cached_property
    def tts_worker(self) -> SpeechWorker:
        return SpeechWorker("tts")

    def hold_line(self, dialog: Dialog, speaker: Speaker) -> HoldLine:
        """Hold audio for `dialog`'s caller while they wait for a person (config.yml `queue:`)."""
        queue = self.dialogs.queue
        return HoldLine(lambda ticket: queue.entry(ticket).status, dialog.queue_notice, speaker.pcm,
                        self.synthesizer.sample_rate, queue.settings.hold_announce_s,
                        self.catalog.prompts["agent_connecting"])

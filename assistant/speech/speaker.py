"""Reply text → audio, sentence by sentence, so the caller hears the first sentence while the
next is synthesised. Fixed sentences (the catalog's prompts) come from the prompt cache built by
setup; sentences holding the caller's details are synthesised fresh and never stored."""
from __future__ import annotations

import threading
from collections.abc import Iterator

from assistant.core.frames import Frame, Interruption, ReplyText, SpeechStarted, SynthesizedAudio
from assistant.core.pipeline import Processor
from assistant.speech.tts.base import Synthesizer
from assistant.speech.tts.prompt_cache import PromptCache
from assistant.speech.tts.sentences import split_sentences


class Speaker(Processor):
    def __init__(self, synth: Synthesizer, cache: PromptCache | None = None, fixed: frozenset[str] = frozenset()) -> None:
        self.synth = synth
        self.cache = cache
        self.fixed = fixed
        self.gone = threading.Event()  # the caller hung up: the rest of a reply is not synthesised

    def far_end_gone(self) -> None:
        self.gone.set()

    def process(self, frame: Frame) -> Iterator[Frame]:
        if isinstance(frame, SpeechStarted):
            yield Interruption()  # barge-in: the caller speaking stops the reply being played
        yield frame
        if isinstance(frame, ReplyText):
            for sentence in split_sentences(frame.text):
                if self.gone.is_set():
                    return
                yield SynthesizedAudio(self.pcm(sentence), self.synth.sample_rate, sentence)

    def pcm(self, sentence: str) -> bytes:
        """One sentence as audio at the synthesiser's rate."""
        if self.cache and sentence in self.fixed:
            return self.cache.get(sentence)
        return self.synth.synthesize(sentence)

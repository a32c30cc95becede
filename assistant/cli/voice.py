"""`assistant say` (text to a WAV with the configured voice) and `assistant voice check` (every fixed
prompt and a sample of filled reply templates spoken, heard back by our Whisper, scored as CER)."""
from __future__ import annotations

import re
import statistics
import time
from pathlib import Path
from typing import List

import typer
from rapidfuzz.distance import Levenshtein

from assistant.core.audio import Audio, check_stream_rate, resample, write_wav
from assistant.catalog.catalog import Catalog
from assistant.core.errors import AssistantError
from assistant.speech.tts.base import Synthesizer
from assistant.speech.tts.reading import read_aloud
from assistant.speech.tts.sentences import speak, split_sentences
from domain.config import load_config

voice_app = typer.Typer(no_args_is_help=True, help="The assistant's voice (config.yml `tts:`).")

# Values as the dialog's wording says them (assistant/dialog/wording.py), to fill reply templates.
SAMPLE_VALUES = {
    "amount": "49500", "balance": "3,800.00", "balance_after": "12000.5", "available": "8600", "fee": "25",
    "price": "12.5", "quantity": "1000", "stock": "招商银行", "name": "贵州茅台", "side": "买入",
    "account": "尾号1234", "card": "信用卡", "payee": "张三", "when": "1月6日15点30分", "id": "TS202501060003",
    "ticket": "TS202501060007", "order_id": "W202501060002", "phone": "尾号5678", "sms_phone": "尾号5678",
    "bill_type": "电费", "biller": "国网电力", "currency": "美元", "cny_amount": "7150", "rate": "7.15",
    "count": "3", "minutes": "5", "ahead": "2", "length": "6", "attempts_left": "2", "due_date": "2025-01-25",
    "remaining": "3200", "amount_due": "5600", "min_due": "560", "change_pct": "3.5%", "low": "11.8",
    "high": "12.9", "direction": "上涨", "bank_balance": "20000", "securities_cash": "15000",
}


@voice_app.command("check")
def check(limit: int = typer.Option(None, "--limit", min=1, help="say at most this many sentences (default: every fixed prompt and ~10 templates)")) -> None:
    """Speak every fixed prompt and ~10 filled templates, hear them back with Whisper; CER, RTF, latency."""
    from assistant.runtime.voice import VoiceService
    from assistant.speech.asr.base import transcribe
    from assistant.speech.engines import make_recognizer, make_synthesizer
    from assistant.speech.tts.prompt_cache import PromptCache

    config = load_config()
    assistant = VoiceService(config)
    started = time.perf_counter()
    synth = make_synthesizer(config)
    synth.synthesize("您好。")  # the first sentence loads the voice: timed as start-up, not as speech
    print(f"voice: {synth.name} ({synth.voice_id}), start-up {time.perf_counter() - started:.1f} s")
    cache = PromptCache(synth, config.voices_dir / "cache" / synth.name)
    # The call's recognizer and biasing prompt, without the NLU weighing its runners-up (no NLU process).
    recognizer = make_recognizer(config, 16000, assistant.asr_prompt())
    fixed = sorted(assistant.fixed_sentences())
    filled = filled_templates(assistant.catalog, 10)
    jobs = [(True, s) for s in fixed] + [(False, s) for s in filled]
    jobs = jobs[:limit] if limit else jobs
    errors = chars = 0
    synth_s = audio_s = 0.0
    cached_ms: list[float] = []
    new_ms: list[float] = []
    for is_fixed, text in jobs:
        if is_fixed:
            if not cache.path_for(text).is_file():
                synth_s, audio_s = _timed(synth, text, synth_s, audio_s)
                cache.get(text)
            began = time.perf_counter()
            pcm = cache.get(text)
            cached_ms.append(1000 * (time.perf_counter() - began))
        else:
            began = time.perf_counter()
            pieces = speak(synth, text)  # clause by clause, as a call speaks it
            pcm = next(pieces)
            new_ms.append(1000 * (time.perf_counter() - began))
            pcm += b"".join(pieces)
            synth_s += time.perf_counter() - began
            audio_s += Audio(pcm, synth.sample_rate).seconds
        heard = transcribe(recognizer, resample(Audio(pcm, synth.sample_rate), 16000).pcm)
        wrong, length = char_errors(text, heard)
        errors, chars = errors + wrong, chars + length
        print(f"{100 * wrong / max(length, 1):5.1f} %  {'prompt  ' if is_fixed else 'template'}  {text}  [{heard}]", flush=True)
    if audio_s:
        print(f"RTF: {synth_s / audio_s:.3f} ({synth_s:.1f} s to make {audio_s:.1f} s of speech)")
    for what, times in (("cached prompts", cached_ms), ("new sentences", new_ms)):
        if times:
            print(f"first audio, {what}: p50 {_percentile(times, 50):.0f} ms, p95 {_percentile(times, 95):.0f} ms ({len(times)})")
    print(f"overall CER: {100 * errors / max(chars, 1):.1f} %")


def _timed(synth: Synthesizer, text: str, synth_s: float, audio_s: float) -> tuple[float, float]:
    began = time.perf_counter()
    pcm = synth.synthesize(text)
    return synth_s + time.perf_counter() - began, audio_s + Audio(pcm, synth.sample_rate).seconds


def _percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def filled_templates(catalog: Catalog, count: int) -> list[str]:
    """`count` of the catalog's reply templates whose names all have a sample value, filled, spread
    evenly over the catalog (sorted, so every run says the same ones)."""
    from assistant.catalog.template import names, render

    templates = [p for p in catalog.prompts.values() if list(names(p))]
    for function in catalog.functions.values():
        templates += [reply.say for reply in function.outcomes.values()]
    usable = sorted({t for t in templates if all(n in SAMPLE_VALUES for n, _ in names(t))})
    step = max(1, len(usable) // count)
    return [render(t, SAMPLE_VALUES) for t in usable[::step][:count]]


_NOT_SAID = re.compile(r"[^\w]|_")


def canonical(text: str) -> str:
    """What a sentence says, for comparing: digits read out, simplified characters, no punctuation;
    幺 and 两 as 一 and 二 (Whisper writes either)."""
    from assistant.nlu.normalize import clean_text

    said = read_aloud(clean_text(text)).lower()
    return _NOT_SAID.sub("", said).translate(str.maketrans("幺两", "一二"))


def char_errors(said: str, heard: str) -> tuple[int, int]:
    """(edits, length of what was said) between the sentence and its transcript."""
    reference = canonical(said)
    return Levenshtein.distance(reference, canonical(heard)), len(reference)


def say(
    text: List[str] = typer.Argument(..., help="what to say (several arguments are joined by spaces)"),
    out: Path = typer.Option(..., "--out", help="the WAV file to write"),
    rate: int = typer.Option(16000, "--rate", help="sample rate of the file: 8000 (telephone) or 16000"),
) -> None:
    """Speak TEXT with the configured voice into one WAV file, sentence after sentence."""
    from assistant.speech.engines import make_synthesizer

    check_stream_rate(rate)
    sentences = split_sentences(" ".join(text))
    if not sentences:
        raise AssistantError("nothing to say: the text has no words")
    synth = make_synthesizer(load_config())
    pcm = b"".join(resample(Audio(synth.synthesize(s), synth.sample_rate), rate).pcm for s in sentences)
    try:
        write_wav(out, Audio(pcm, rate))
    except OSError as error:
        raise AssistantError(f"{out}: cannot write it ({error.strerror})") from error
    typer.echo(f"{out}: {Audio(pcm, rate).seconds:.2f} s at {rate} Hz ({synth.name})", err=True)

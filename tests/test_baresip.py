"""baresip calls the real assistant over SIP, and hears its answer: what the dialog said is what our
ASR makes of baresip's recording of the assistant's side. 127.0.0.1 ports 25200-25299.

baresip's configuration is tests/data/baresip/ (a template filled in per test): aufile plays the
caller's WAV (the call ends when it ends, so it is padded with silence for the reply), sndfile
records both directions of the call, menu's /dial places the call from the command line; its
log (with the SIP trace) is baresip.log in the test's folder.
"""
from __future__ import annotations

import asyncio
import audioop
import shutil
from pathlib import Path
from string import Template
from typing import Any

import pytest
from call_lines import Seen, until
from test_whisper import _comparable

from assistant.core.audio import Audio, read_wav, resample, write_wav
from assistant.core.frames import CallStarted, DialogTurn, EndOfCall, IntentResult, SynthesizedAudio
from assistant.core.metrics import cer
from assistant.core.session import AudioSink, CallSession
from assistant.speech.asr.base import transcribe
from assistant.speech.tts.sentences import split_sentences
from assistant.transports.sip import SAMPLE_RATE, SipServer

pytestmark = pytest.mark.skipif(shutil.which("baresip") is None, reason="baresip is not installed (Debian baresip-core)")

CONFIG = Path(__file__).parent / "data" / "baresip"
HOST = "127.0.0.1"
BARESIP_PORT = 25200  # its SIP (and TLS on 25201)
BARESIP_RTP = "25210-25219"
SIP_PORT = 25220  # the assistant; its RTP from 25230
RTP_PORT = 25230
GREETING_S = 12.0  # the caller lets the greeting finish before it speaks
LISTEN_S = 25.0  # then it stays on the line this long: the reply is heard (and recorded) in that time
FRAME = int(SAMPLE_RATE * 0.02) * 2
LOUD = 300  # RMS of a 20 ms frame of speech, well above the line's idle noise
MAX_CER = 0.35  # what the caller's recording may miss of the reply, or LINE_CER more than the audio sent
LINE_CER = 0.15
WHISPER_RATE = 16000  # what the recogniser reads, whatever the line's rate


def baresip_folder(folder: Path, caller_wav: Path, recordings: Path) -> Path:
    """baresip's config and accounts in `folder`, from the templates."""
    folder.mkdir()
    recordings.mkdir()
    values = {"sip_port": BARESIP_PORT, "rtp_ports": BARESIP_RTP, "caller_wav": caller_wav, "recordings": recordings}
    (folder / "config").write_text(Template((CONFIG / "config").read_text()).substitute(values))
    shutil.copy(CONFIG / "accounts", folder / "accounts")
    return folder


def loud(pcm: bytes) -> list[float]:
    """The start times of the 20 ms frames of `pcm` that are loud."""
    return [start / 2 / SAMPLE_RATE for start in range(0, len(pcm) - FRAME + 1, FRAME)
            if audioop.rms(pcm[start:start + FRAME], 2) > LOUD]


@pytest.mark.slow
def test_the_caller_hears_the_reply_the_dialog_gave(assistant: Any, banking_dev: list, tmp_path: Path) -> None:
    request = next(r for r in banking_dev if r.channel == "phone" and r.intent == "balance_inquiry" and not r.slots)
    speech = read_wav(request.path, SAMPLE_RATE).pcm
    caller_wav = tmp_path / "caller.wav"
    write_wav(caller_wav, Audio(bytes(int(GREETING_S * SAMPLE_RATE) * 2) + speech
                                + bytes(int(LISTEN_S * SAMPLE_RATE) * 2), SAMPLE_RATE))
    recordings = tmp_path / "recordings"
    config = baresip_folder(tmp_path / "baresip", caller_wav, recordings)
    seen = Seen()
    sessions: list[CallSession] = []

    def open_call(call: CallStarted, sink: AudioSink | None) -> CallSession:
        sessions.append(assistant.open_call(call, sink, seen))
        return sessions[-1]

    async def call() -> None:
        server = SipServer(HOST, SIP_PORT, open_call, 2, rtp_port=RTP_PORT)
        await server.start()
        log = (tmp_path / "baresip.log").open("wb")
        phone = await asyncio.create_subprocess_exec(
            "baresip", "-s", "-f", str(config), "-e", f"/dial sip:assistant@{HOST}:{SIP_PORT}",
            "-t", str(int(GREETING_S + LISTEN_S + 60)), stdout=log, stderr=log, stdin=asyncio.subprocess.DEVNULL)
        try:
            await until(lambda: sessions and sessions[0].ended, GREETING_S + LISTEN_S + 50, "the call to end")
            # the SIP leg is counted off when PJSIP reports it disconnected, a moment after the session ends
            await until(lambda: server.active_calls == 0, 5, "the SIP call to be counted off")
        finally:
            if phone.returncode is None:
                phone.terminate()
            await asyncio.wait_for(phone.wait(), 10)
            log.close()
            await server.stop()

    asyncio.run(call())
    frames = [f for _, f in seen.frames]
    assert isinstance(frames[-1], EndOfCall)  # the call is over (baresip hangs up when its file ends)
    asked = next(i for i, f in enumerate(frames) if isinstance(f, IntentResult))
    assert frames[asked].intent == request.intent
    say = next(f.turn.say for f in frames[asked:] if isinstance(f, DialogTurn))
    sentences = split_sentences(say)
    said = [f for f in frames[asked:] if isinstance(f, SynthesizedAudio)][:len(sentences)]
    assert [f.text for f in said] == sentences  # the reply was spoken as the dialog gave it

    heard_wav, = recordings.glob("*-dec.wav")  # what baresip received: the assistant's side
    heard = read_wav(heard_wav, SAMPLE_RATE).pcm
    # the reply starts once the caller has stopped speaking (a barge-in has cut the greeting short)
    spoke_until = GREETING_S + max(loud(speech))
    start = next((t for t in loud(heard) if t > spoke_until), None)
    assert start is not None, f"nothing was heard after {spoke_until:.1f} s of the recording"
    length = sum(len(f.pcm) / 2 / f.sample_rate for f in said)
    piece = heard[int((start - 0.2) * SAMPLE_RATE) * 2:int((start + length + 1.0) * SAMPLE_RATE) * 2]
    recognizer = assistant.recognizer(SAMPLE_RATE)
    text = transcribe(recognizer, resample(Audio(piece, SAMPLE_RATE), WHISPER_RATE).pcm)
    score = cer(_comparable(say), _comparable(text))
    # What the ASR makes of the audio the assistant sent, at the line's rate but before the line (μ-law,
    # RTP, the phone's recorder): its own misreadings of the voice (查询 → 查行) are not the line's. Three
    # runs of the same call heard 0.28, 0.31 and 0.375 over the line.
    narrowband = [resample(Audio(f.pcm, f.sample_rate), SAMPLE_RATE) for f in said]
    sent = b"".join(resample(audio, WHISPER_RATE).pcm for audio in narrowband)
    reference = cer(_comparable(say), _comparable(transcribe(recognizer, sent)))
    print(f"said: {say} | heard: {text} | CER {score:.2f} (of the audio sent: {reference:.2f})")
    assert score <= max(MAX_CER, reference + LINE_CER), (say, text, reference)

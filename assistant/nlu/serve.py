"""Entry point of the resident NLU process: python -m assistant.nlu.serve MODEL [SOCKET]."""
import assistant.core.quiet  # noqa: F401 - first: telemetry off and warnings silenced before Rasa loads

import logging
import sys
from pathlib import Path

from assistant.nlu.resident import serve

if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else None)

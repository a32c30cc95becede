"""Entry point of the resident NLU process: python -m assistant.nlu.serve MODEL."""
import sys
from pathlib import Path

from assistant.nlu.resident import serve

if __name__ == "__main__":
    serve(Path(sys.argv[1]))

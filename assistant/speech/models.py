"""Finding models: an explicit path (config.yml or environment), then ../shared/models, then a
download made by setup. A model that is nowhere is a ModelNotFoundError naming what to fetch."""
from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from assistant.core.errors import ModelNotFoundError
from domain.config import Config

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Download:
    url: str
    size: int | None = None
    md5: str | None = None
    sha256: str | None = None
    unzip: bool = False


@dataclass(frozen=True)
class ModelSource:
    name: str  # folder (or file) name under models_dir / downloads_dir
    env: str  # environment variable that overrides the location
    what: str  # for error messages
    downloads: tuple[Download, ...] = ()


WHISPER = ModelSource("faster-whisper-base", "WHISPER_MODEL", "Whisper base in CTranslate2 form")
VOSK_CN = ModelSource(
    "vosk-model-small-cn-0.22",
    "VOSK_MODEL",
    "the Chinese vosk model",
    # Digest as recorded by public projects that pin this archive; the vosk site publishes none.
    (
        Download(
            "https://alphacephei.com/vosk/models/vosk-model-small-cn-0.22.zip",
            sha256="3af8b0e7e0f835ae9d414ce5df580237a3cfb08d586c9fbbb0f7ff29ad5b14ba",
            unzip=True,
        ),
    ),
)


def locate(source: ModelSource, config: Config, explicit: str | None = None) -> Path | None:
    """Where the model is, or None. `explicit` is the path given in config.yml."""
    given = os.environ.get(source.env) or explicit
    if given:
        path = config.root / given
        if not path.exists():
            raise ModelNotFoundError(f"{source.what}: {path} (from {source.env} or config.yml) does not exist")
        return path
    for base in (config.models_dir, config.downloads_dir):
        if (base / source.name).exists():
            return base / source.name
    return None


def require(source: ModelSource, config: Config, explicit: str | None = None) -> Path:
    path = locate(source, config, explicit)
    if path is None:
        fetch = source.downloads[0].url if source.downloads else f"{config.models_dir}/{source.name}"
        raise ModelNotFoundError(
            f"{source.what} ({source.name}) not found: set {source.env}, put it in "
            f"{config.models_dir}, or run `assistant setup` to fetch {fetch}"
        )
    return path


def download(
    source: ModelSource, dest_dir: Path, progress: Callable[[int, int | None], None] | None = None
) -> Path:
    """Fetch and verify every file of `source` into dest_dir/name; raises OSError when unreachable."""
    target = dest_dir / source.name
    if target.exists():
        return target
    dest_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest_dir) as tmp:
        staged = Path(tmp) / source.name
        for item in source.downloads:
            file = Path(tmp) / item.url.rsplit("/", 1)[1]
            _fetch(item, file, progress)
            if item.unzip:
                with zipfile.ZipFile(file) as archive:
                    archive.extractall(tmp)
                file.unlink()
            else:
                staged.mkdir(exist_ok=True)
                file.rename(staged / file.name)
        staged.rename(target)  # only a complete, verified model ever appears under its name
    return target


def _fetch(item: Download, file: Path, progress: Callable[[int, int | None], None] | None) -> None:
    md5, sha = hashlib.md5(), hashlib.sha256()
    with urllib.request.urlopen(item.url, timeout=20) as response, file.open("wb") as out:
        total = item.size or int(response.headers.get("Content-Length") or 0) or None
        done = 0
        while block := response.read(1 << 16):
            out.write(block)
            md5.update(block)
            sha.update(block)
            done += len(block)
            if progress:
                progress(done, total)
    if item.size is not None and done != item.size:
        raise OSError(f"{item.url}: got {done} bytes, expected {item.size}")
    if item.md5 and md5.hexdigest() != item.md5:
        raise OSError(f"{item.url}: md5 mismatch")
    if item.sha256 and sha.hexdigest() != item.sha256:
        raise OSError(f"{item.url}: sha256 mismatch")


def verify_staged(models_dir: Path, prefix: str) -> list[str]:
    """Check staged files under `prefix` against models_dir/SHA256SUMS; returns the mismatches."""
    sums = models_dir / "SHA256SUMS"
    if not sums.exists():
        return []
    bad = []
    for line in sums.read_text().splitlines():
        digest, _, name = line.partition("  ")
        name = name.removeprefix("./")
        if not name.startswith(prefix):
            continue
        path = models_dir / name
        if not path.is_file():
            bad.append(name)
            continue
        h = hashlib.sha256()
        with path.open("rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
        if h.hexdigest() != digest:
            bad.append(name)
    return bad

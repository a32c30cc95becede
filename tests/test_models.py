"""Finding and fetching models: explicit path, then the staged folder, then downloads; checksums."""
from __future__ import annotations

import hashlib
import http.server
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.core.errors import ModelNotFoundError
from assistant.speech.models import WHISPER, Download, ModelSource, download, locate, require, verify_staged
from domain.config import Config

SOURCE = ModelSource("demo-model", "DEMO_MODEL", "the demo model")


def config_in(root: Path) -> Config:
    return Config({"models_dir": "staged", "downloads_dir": "downloaded"}, root)


def test_lookup_order_explicit_then_staged_then_downloaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = config_in(tmp_path)
    assert locate(SOURCE, config) is None
    (tmp_path / "downloaded/demo-model").mkdir(parents=True)
    assert locate(SOURCE, config) == tmp_path / "downloaded/demo-model"
    (tmp_path / "staged/demo-model").mkdir(parents=True)
    assert locate(SOURCE, config) == tmp_path / "staged/demo-model"
    (tmp_path / "mine").mkdir()
    assert locate(SOURCE, config, "mine") == tmp_path / "mine"  # config.yml path
    (tmp_path / "env").mkdir()
    monkeypatch.setenv("DEMO_MODEL", str(tmp_path / "env"))
    assert locate(SOURCE, config, "mine") == tmp_path / "env"  # the environment wins


def test_a_given_path_that_does_not_exist_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_MODEL", str(tmp_path / "nowhere"))
    with pytest.raises(ModelNotFoundError, match="nowhere.*does not exist"):
        locate(SOURCE, config_in(tmp_path))


def test_missing_model_names_what_to_fetch(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError) as error:
        require(WHISPER, config_in(tmp_path))
    assert "faster-whisper-base" in str(error.value) and "WHISPER_MODEL" in str(error.value)


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTP server on loopback serving tmp_path/www."""
    www = tmp_path / "www"
    www.mkdir()
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(www))  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", www
    server.shutdown()


def test_download_verifies_and_unpacks(served: tuple[str, Path], tmp_path: Path) -> None:
    url, www = served
    with zipfile.ZipFile(www / "demo-model.zip", "w") as archive:
        archive.writestr("demo-model/model.bin", b"weights")
    digest = hashlib.sha256((www / "demo-model.zip").read_bytes()).hexdigest()
    source = ModelSource("demo-model", "DEMO_MODEL", "the demo model",
                         (Download(f"{url}/demo-model.zip", sha256=digest, unzip=True),))
    sizes: list[int] = []
    path = download(source, tmp_path / "models", lambda done, total: sizes.append(done))
    assert (path / "model.bin").read_bytes() == b"weights" and sizes
    assert download(source, tmp_path / "models") == path  # a second run does nothing


def test_download_with_a_wrong_checksum_leaves_nothing(served: tuple[str, Path], tmp_path: Path) -> None:
    url, www = served
    (www / "voice.onnx").write_bytes(b"not the voice")
    source = ModelSource("voice", "VOICE", "a voice", (Download(f"{url}/voice.onnx", md5="0" * 32),))
    with pytest.raises(OSError, match="md5 mismatch"):
        download(source, tmp_path / "models")
    assert not (tmp_path / "models/voice").exists()
    assert list((tmp_path / "models").iterdir()) == []  # no half-downloaded files either


def test_unreachable_download_is_an_os_error(tmp_path: Path) -> None:
    source = ModelSource("voice", "VOICE", "a voice", (Download("http://127.0.0.1:9/voice.onnx"),))
    with pytest.raises(OSError):
        download(source, tmp_path / "models")


def test_staged_files_are_checked_against_sha256sums(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m/model.bin").write_bytes(b"weights")
    good = hashlib.sha256(b"weights").hexdigest()
    (tmp_path / "SHA256SUMS").write_text(f"{good}  ./m/model.bin\n{'0' * 64}  m/missing.json\n")
    assert verify_staged(tmp_path, "m") == ["m/missing.json"]
    (tmp_path / "m/model.bin").write_bytes(b"tampered")
    assert verify_staged(tmp_path, "m") == ["m/model.bin", "m/missing.json"]

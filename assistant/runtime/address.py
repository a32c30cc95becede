"""HOST:PORT, as the front-ends' options give it (read before anything heavy is loaded)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.core.errors import AssistantError

_ADDRESS = re.compile(r"(?:\[(?P<v6>[0-9a-fA-F:.]+)\]|(?P<host>[^\s:\[\]]+)):(?P<port>\d{1,5})")


@dataclass(frozen=True)
class Address:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str, option: str) -> Address:
        """HOST:PORT ([::1]:PORT for IPv6; port 0: any free one)."""
        match = _ADDRESS.fullmatch(text.strip())
        port = int(match["port"]) if match else -1
        if not match or port > 65535:
            raise AssistantError(f"{option}: give HOST:PORT (e.g. 127.0.0.1:9092), not {text!r}")
        return cls(match["v6"] or match["host"], port)

    @classmethod
    def peer(cls, text: str, option: str) -> Address:
        """HOST:PORT of a peer to send to (a port of 1 or more)."""
        address = cls.parse(text, option)
        if address.port == 0:
            raise AssistantError(f"{option}: a peer needs its port (1-65535), not 0")
        return address

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

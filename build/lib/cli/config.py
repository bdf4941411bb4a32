"""Where the API is and which token to send: flags first, then the environment, then the
token file that `exportctl login --dev` writes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_API_URL = "http://127.0.0.1:8080"


class NoToken(Exception):
    """No token given and none stored."""

    def __init__(self, token_file: Path) -> None:
        super().__init__(
            "no token: set EXPORT_TOKEN (or --token), point EXPORT_TOKEN_FILE (or --token-file)"
            f" at a file holding one, or run `exportctl login --dev` to store one in {token_file}"
        )


def default_token_file() -> Path:
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "exportctl" / "token"


@dataclass(frozen=True)
class Config:
    api_url: str
    token: str | None
    token_file: Path
    # Whether the token file was named on the command line: it then wins over EXPORT_TOKEN.
    token_file_from_flag: bool = False
    token_from_flag: bool = False

    def resolve_token(self) -> str:
        """The token to send, or NoToken."""
        if self.token and (self.token_from_flag or not self.token_file_from_flag):
            return self.token
        stored = read_token(self.token_file)
        if stored:
            return stored
        if self.token:
            return self.token
        raise NoToken(self.token_file)


def read_token(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return text or None


def save_token(path: Path, token: str) -> None:
    """Write the token readable by its owner alone (0600, in a 0700 folder when we make it);
    written under another name first, so a reader never sees half a token."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(token + "\n")
    # O_CREAT's mode does not apply to a file that was already there.
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)

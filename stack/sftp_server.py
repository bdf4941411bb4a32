"""The local stack's SFTP server: asyncssh on a loopback port, each user rooted in a folder.

    python stack/sftp_server.py keys DIR        host keys, a user key, a password file
    python stack/sftp_server.py serve --port P --root DIR --host-key FILE --keys DIR

Users log in with the key in DIR/user_key or the password in DIR/user_password (both made by
`keys`); each sees only ROOT/<username>. A real SSH server over TCP, as the integration tests
need; production talks to the customer's own server instead.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
from pathlib import Path

import asyncssh


def make_keys(folder: Path) -> None:
    """Two host keys (the real one and an impostor's), the user's key and password."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("host_key", "impostor_host_key", "user_key"):
        path = folder / name
        if not path.exists():
            key = asyncssh.generate_private_key("ssh-ed25519")
            key.write_private_key(str(path))
            key.write_public_key(str(path) + ".pub")
            path.chmod(0o600)
    password = folder / "user_password"
    if not password.exists():
        password.write_text(secrets.token_urlsafe(18) + "\n")
        password.chmod(0o600)


class _Server(asyncssh.SSHServer):
    def __init__(self, password: str) -> None:
        self._password = password

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return secrets.compare_digest(password, self._password)


async def serve(host: str, port: int, root: Path, host_key: Path, keys: Path) -> None:
    password = (keys / "user_password").read_text().strip()

    def rooted(channel: asyncssh.SSHServerChannel) -> asyncssh.SFTPServer:
        home = root / channel.get_extra_info("username")
        home.mkdir(parents=True, exist_ok=True)
        return asyncssh.SFTPServer(channel, chroot=str(home).encode())

    await asyncssh.listen(
        host,
        port,
        server_factory=lambda: _Server(password),
        server_host_keys=[str(host_key)],
        authorized_client_keys=str(keys / "user_key.pub"),
        sftp_factory=rooted,
        allow_scp=False,
    )
    await asyncio.Future()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    keys = commands.add_parser("keys")
    keys.add_argument("folder", type=Path)
    run = commands.add_parser("serve")
    # Loopback on the local stack; every interface in a container, where the worker is
    # another host.
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, required=True)
    run.add_argument("--root", type=Path, required=True)
    run.add_argument("--host-key", type=Path, required=True)
    run.add_argument("--keys", type=Path, required=True)
    args = parser.parse_args()
    if args.command == "keys":
        make_keys(args.folder)
    else:
        asyncio.run(serve(args.host, args.port, args.root, args.host_key, args.keys))


if __name__ == "__main__":
    main()

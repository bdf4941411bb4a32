"""SFTP delivery with asyncssh: host key checked against configured known hosts, every file
written under a temporary name and renamed when whole, so the receiver never sees half a file.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncssh

from delivery.failures import DeliveryError, network_failure, permanent, transient
from delivery.secrets import SftpSecret
from export_contract.request import SftpDelivery
from stores.export_store import ExportStore

BLOCK = 1 << 20
CONNECT_TIMEOUT = 15


async def deliver_over_sftp(
    store: ExportStore,
    target: SftpDelivery,
    secret: SftpSecret,
    known_hosts: Path | None,
    locations: list[tuple[str, str]],
) -> str:
    """Upload each (name, location) into target.path; return where they went."""
    where = f"sftp://{target.username}@{target.host}:{target.port}/{target.path.lstrip('/')}"
    if known_hosts is None or not known_hosts.is_file():
        # Without known hosts the only choice would be to trust any key: never.
        raise permanent("no SFTP known hosts are configured (EXPORT_SFTP_KNOWN_HOSTS)")
    try:
        async with (
            asyncssh.connect(
                target.host,
                target.port,
                username=target.username,
                known_hosts=str(known_hosts),
                client_keys=[secret.private_key_file] if secret.private_key_file else None,
                passphrase=secret.passphrase,
                password=secret.password,
                connect_timeout=CONNECT_TIMEOUT,
                # Use only the named secret: not the worker's own ~/.ssh keys or agent.
                agent_path=None,
                ignore_encrypted=True,
            ) as connection,
            connection.start_sftp_client() as sftp,
        ):
            folder = target.path.rstrip("/") or "."
            await sftp.makedirs(folder, exist_ok=True)
            for name, location in locations:
                await _upload(store, sftp, location, f"{folder}/{name}")
    except DeliveryError:
        raise
    except asyncssh.HostKeyNotVerifiable as exc:
        raise permanent(
            f"the host key of {target.host}:{target.port} is not in the known hosts ({exc.reason})"
        ) from exc
    except asyncssh.PermissionDenied as exc:
        raise permanent(
            f"{target.username}@{target.host}:{target.port} refused the credentials"
        ) from exc
    except (asyncssh.SFTPPermissionDenied, asyncssh.SFTPNoSuchFile) as exc:
        raise permanent(f"{where}: {exc.reason}") from exc
    except (asyncssh.DisconnectError, asyncssh.ConnectionLost, asyncssh.SFTPError) as exc:
        raise transient(f"{where}: {exc.reason}") from exc
    except OSError as exc:
        raise network_failure(exc, f"SFTP server {target.host}:{target.port}") or transient(
            str(exc)
        ) from exc
    return where


async def _upload(store: ExportStore, sftp: asyncssh.SFTPClient, location: str, final: str) -> None:
    folder, _, name = final.rpartition("/")
    temporary = f"{folder}/.{name}.partial"
    with store.open(location) as source:
        async with sftp.open(temporary, "wb") as remote:
            while block := await asyncio.to_thread(source.read, BLOCK):
                await remote.write(block)
    # Atomic replace where the server offers it (OpenSSH and asyncssh do); else remove first.
    try:
        await sftp.posix_rename(temporary, final)
    except asyncssh.SFTPOpUnsupported:
        if await sftp.exists(final):
            await sftp.remove(final)
        await sftp.rename(temporary, final)

"""Peer: upload one local file the plain way, to S3 (boto3's upload_file, same part size as
the service) or over SFTP (asyncssh's put), as a script would after `psql \\copy`.

    python upload_file.py s3 FILE BUCKET KEY
    python upload_file.py sftp FILE PORT USER KEY_FILE KNOWN_HOSTS REMOTE_PATH
"""

import asyncio
import os
import sys

import asyncssh
import boto3
from boto3.s3.transfer import TransferConfig


async def sftp_put(local: str, port: int, user: str, key: str, known: str, remote: str) -> None:
    async with (
        asyncssh.connect(
            "127.0.0.1", port, username=user, client_keys=[key], known_hosts=known
        ) as conn,
        conn.start_sftp_client() as sftp,
    ):
        await sftp.put(local, remote)


if sys.argv[1] == "s3":
    _, _, local, bucket, key = sys.argv
    s3 = boto3.client(
        "s3",
        endpoint_url=os.environ["EXPORT_S3_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )
    s3.upload_file(local, bucket, key, Config=TransferConfig(multipart_chunksize=8 << 20))
else:
    _, _, local, port, user, key, known, remote = sys.argv
    asyncio.run(sftp_put(local, int(port), user, key, known, remote))

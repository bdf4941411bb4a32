"""Delivery of finished exports to where the request asked: S3 buckets, SFTP servers, mail."""

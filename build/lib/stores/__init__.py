"""Where finished export files are kept: local folders or an S3 bucket, addressed by location."""

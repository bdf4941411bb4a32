"""Every schema version that ever wrote messages, so old messages still decode.

`schemas/history/` keeps each version (named types expanded in place), named by its
fingerprint. The codec reads a message with the schema that wrote it and resolves it to the
current one (Avro schema resolution: new fields take their defaults). After changing a schema
in a compatible way, record it: `python -m export_contract.schema_history`; a unit test fails
until the current version of every schema is recorded.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from fastavro import parse_schema
from fastavro.schema import fingerprint, load_schema, to_parsing_canonical_form

# Package data, found wherever the package is installed. fastavro reads the named types a
# schema uses from the files beside it, so it needs a folder on disk: a wheel installs as
# files, never zipped.
SCHEMA_DIR = Path(str(resources.files("export_contract") / "schemas"))
HISTORY_DIR = SCHEMA_DIR / "history"


def expanded_schema(path: Path) -> Any:
    """The schema in `path` with the named types it uses expanded in place (unparsed)."""
    return load_schema(str(path), _write_hint=False)


def current_schema(name: str) -> Any:
    return parse_schema(expanded_schema(SCHEMA_DIR / f"export.{name}.avsc"))


def fingerprint_of(parsed: Any) -> bytes:
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO"))


def history_path(name: str, fp: bytes) -> Path:
    return HISTORY_DIR / f"export.{name}.{fp.hex()}.json"


def recorded_versions() -> list[tuple[str, bytes, Any]]:
    """(message name, fingerprint, writer schema) of every recorded version."""
    versions = []
    for path in sorted(HISTORY_DIR.glob("export.*.json")):
        _, name, fp_hex, _ = path.name.split(".")
        versions.append((name, bytes.fromhex(fp_hex), parse_schema(json.loads(path.read_text()))))
    return versions


def record(names: list[str], schema_dir: Path = SCHEMA_DIR) -> list[Path]:
    """Write the version of each schema in `schema_dir` into the history, if it is not there."""
    written = []
    HISTORY_DIR.mkdir(exist_ok=True)
    for name in names:
        expanded = expanded_schema(schema_dir / f"export.{name}.avsc")
        path = history_path(name, fingerprint_of(parse_schema(expanded)))
        if not path.exists():
            path.write_text(json.dumps(expanded, indent=1, ensure_ascii=False) + "\n")
            written.append(path)
    return written


if __name__ == "__main__":
    from export_contract.codec import MESSAGE_TYPES

    for path in record(list(MESSAGE_TYPES)):
        print(f"recorded {path.relative_to(SCHEMA_DIR.parent)}")

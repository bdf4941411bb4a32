"""Ask a health endpoint once: exit 0 when it answers 200, else 1, printing what it said.

stack.sh polls the API's /healthz and each worker's /readyz with this, and reports a worker's
last answer if it never turns ready, so that whoever started the stack sees which check holds
it back.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request


def probe(url: str) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return True, response.read().decode()
    except urllib.error.HTTPError as exc:  # 503 carries the checks that failed
        return False, exc.read().decode()
    except OSError as exc:
        return False, f"no answer on {url}: {exc}"


if __name__ == "__main__":
    ok, said = probe(sys.argv[1])
    print(said)
    sys.exit(0 if ok else 1)

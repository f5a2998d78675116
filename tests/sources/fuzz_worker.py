"""Run htsr on many (hostile) files in one process, under a memory limit; one JSON line each.

Usage: ``python fuzz_worker.py MEMORY_BYTES FILE...``. For every file: ``describe`` then
``analyze``; the outcome is ``ok`` (a table / a Report), ``source_error`` (a SourceError) or
``crash`` (anything else, with its traceback). A file that kills the process (a segfault, an
exhausted memory limit) shows as missing lines, which the caller reports.
"""

from __future__ import annotations

import json
import resource
import sys
import traceback
import warnings


def _run(path: str) -> dict[str, str]:
    import htsr
    from htsr.errors import HtsrError, SourceError

    try:
        htsr.describe(path, min_evals=2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            htsr.analyze(path, min_evals=2)
    except SourceError as e:
        if not e.path or "\n" in str(e):
            return {"file": path, "outcome": "crash", "detail": f"bad SourceError: {e!r}"}
        return {"file": path, "outcome": "source_error", "detail": str(e)}
    except HtsrError as e:  # "every analysable layer failed": a report that could not be made
        if "every analysable layer failed" in str(e):
            return {"file": path, "outcome": "ok", "detail": str(e)}
        return {"file": path, "outcome": "crash", "detail": traceback.format_exc()}
    except Exception:
        return {"file": path, "outcome": "crash", "detail": traceback.format_exc()}
    return {"file": path, "outcome": "ok", "detail": ""}


def main(argv: list[str]) -> None:
    limit = int(argv[0])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    for path in argv[1:]:
        print(json.dumps(_run(path)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

"""Run the whole image corpus in this process under a hard address-space limit.

Usage: ``python run_corpus.py LIMIT_BYTES FOLDER``. Prints one JSON object per case
(``{"case": name, "problem": null | text}``) and exits 0 when every case finished, whatever its
verdict; a crash, a `MemoryError` outside the readers or a hang shows up as a missing line or a
non-zero exit, which ``test_image_corpus.py`` reports.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path


def main() -> int:
    limit, folder = int(sys.argv[1]), Path(sys.argv[2])
    # Before numpy and the readers load, so that every allocation counts against the limit.
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from corpus_images import IMAGE_CASES, evaluate

    for index, case in enumerate(IMAGE_CASES):
        case_folder = folder / f"case{index:03d}"
        case_folder.mkdir()
        try:
            problem = evaluate(case, case_folder)
        except Exception as error:  # the verdict, not a crash of the runner
            problem = f"crashed with {type(error).__name__}: {error}"
        print(json.dumps({"case": case.name, "problem": problem}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where the authored contracts live: `wsdl/` and `xsd/` beside the packages in a source
checkout (or editable install), or under `<prefix>/share/callsuite` in a wheel install."""
from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def contracts_root() -> Path:
    candidates = (Path(__file__).resolve().parents[1], Path(sys.prefix) / "share" / "callsuite", Path.cwd())
    for candidate in candidates:
        if (candidate / "wsdl").is_dir() and (candidate / "xsd").is_dir():
            return candidate
    raise FileNotFoundError("cannot find the wsdl/ and xsd/ folders of the authored contracts")

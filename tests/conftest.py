import os
from pathlib import Path

import pytest

_DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir():
    """The canonical data folder (METAERR_DATA_DIR, else ../shared/data)."""
    path = Path(os.environ.get("METAERR_DATA_DIR") or _DEFAULT_DATA_DIR).resolve()
    if not path.is_dir():
        pytest.skip(f"data folder {path} is absent; set METAERR_DATA_DIR")
    return path

"""What imported designs (fpgaflow import) share across formats."""
from __future__ import annotations

from ..core.errors import FpgaflowError


def no_training(design, **_):
    raise FpgaflowError(f"{design.name} is an imported model: fpgaflow does not train it (the imported file is the "
                        f"reference). Train it where it was made and import it again with `fpgaflow import --force`")

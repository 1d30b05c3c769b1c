"""What imported designs (fpgaflow import) share across formats."""
from __future__ import annotations

from ..core.errors import FpgaflowError


def no_training(design, **_):
    raise FpgaflowError(f"{design.name} is an imported model: fpgaflow does not train it (the imported file is the "
                        f"reference). Train it where it was made and import it again with `fpgaflow import --force`")


def require_unchanged(design) -> None:
    """The imported model file is the one import checked (its sha256 in design.yaml)."""
    from ..core.hashing import sha256

    path = design.weights
    if not path.is_file():
        raise FpgaflowError(f"{path} not found: import the model again (`fpgaflow import MODEL --name {design.name} "
                            f"--data DATA --force`)")
    expected = (design.spec.get("source") or {}).get("sha256")
    if expected and sha256(path) != expected:
        raise FpgaflowError(f"{path} changed since it was imported (sha256 differs from design.yaml's source.sha256): "
                            f"import it again with `fpgaflow import ... --name {design.name} --force`")

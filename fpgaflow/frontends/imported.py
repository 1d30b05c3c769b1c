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
    files = [(path, (design.spec.get("source") or {}).get("sha256"), "source.sha256")]
    files += [(design.dir / s["file"], s.get("sha256"), f"host.{k}.sha256")
              for k, s in (design.spec.get("host") or {}).items() if s.get("file")]
    for file, expected, key in files:
        if not file.is_file():
            raise FpgaflowError(f"{file} not found: import the model again (`fpgaflow import MODEL --name "
                                f"{design.name} --data DATA --force`)")
        if expected and sha256(file) != expected:
            raise FpgaflowError(f"{file} changed since it was imported (sha256 differs from design.yaml's {key}): "
                                f"import it again with `fpgaflow import ... --name {design.name} --force`")

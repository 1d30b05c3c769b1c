"""The interface every backend implements: build a project from a design, verify it bit for
bit against the reference, synthesize it (or say what to run where the tool is), print its
summary. The CLI, the report and the benchmark read backends only through this."""
from __future__ import annotations

import shutil
from pathlib import Path

from ..core.errors import FpgaflowError


def expected_inexact(result: dict) -> bool:
    """Say so where a verification's differences were expected: the model was built --inexact
    because `fpgaflow check` found it cannot be bit-exact (then its exit code is 0)."""
    why = result.get("not_exact_because")
    if why is None:
        return False
    print(f"NOT BIT-EXACT BY CONSTRUCTION ({why}): {result['exact']}/{result['n']} outputs equal, largest difference "
          f"{result['max_abs_diff']:g}, argmax agreement {result['argmax_agreement']:.4f}")
    return True


class Backend:
    name: str = ""
    title: str = ""               # as users write it (FINN)
    folder: str = ""              # build/<design>/<folder>
    manifest: str = ""            # the file that marks a complete build
    frameworks: tuple[str, ...] = ()
    vendors: tuple[str, ...] = ("xilinx",)   # parts.yaml vendors it builds for
    page: str = ""                # the report page of a design: build/<design>/<page>

    def project(self, design, build_dir) -> Path:
        return Path(build_dir) / design.name / self.folder

    def check(self, design) -> None:
        """Refuse a design this backend cannot take, before anything is written."""
        from ..core.parts import vendor

        part = design.spec["target"]["part"]
        if vendor(part) not in self.vendors:
            raise FpgaflowError(f"target.part: the {self.title} backend builds for {', '.join(self.vendors)} parts; "
                                f"{part} is {vendor(part)} (FINN builds for it: --backend finn)")
        if design.framework.name not in self.frameworks:
            from . import for_framework

            others = ", ".join(b.name for b in for_framework(design.framework.name)) or "none"
            raise FpgaflowError(f"the {self.title} backend takes {', '.join(self.frameworks)} designs; {design.name} is "
                                f"{design.framework.name}: use --backend {others}")

    def preflight(self, design, build_dir, inexact: bool = False) -> None:
        """Before a build: the backend takes the design; an imported model maps on it node by node
        and can be bit-exact there (or the user asked for it anyway: --inexact)."""
        self.check(design)
        if design.framework.imported:
            from ..frontends.imported import require_unchanged
            from ..imports.check import analyse

            require_unchanged(design)
            analyse(design, build_dir).require(self.name, inexact)

    def export(self, design, build_dir) -> Path:
        """The front end's export of the trained design (QONNX or Keras file)."""
        self.check(design)
        if not design.weights.exists():
            raise FpgaflowError(f"{design.weights} not found: train the design first (`fpgaflow train {design.name}`)")
        exported = design.framework.fn("export")(design, build_dir)
        print(f"exported {exported}")
        return exported

    def build(self, design, build_dir, progress: bool = True, inexact: bool = False) -> Path:
        """The project (the backend's `_build`); a build that fails leaves no build folder of a
        design that had none (the export it made first included)."""
        folder = Path(build_dir) / design.name
        existed = folder.exists()
        try:
            self.preflight(design, build_dir, inexact)
            return self._build(design, build_dir, progress, inexact)
        except FpgaflowError:
            if not existed:
                shutil.rmtree(folder, ignore_errors=True)
            raise

    def _build(self, design, build_dir, progress: bool, inexact: bool = False) -> Path:
        raise NotImplementedError

    def ensure(self, design, build_dir) -> Path:
        """The design's project, built first where it is missing."""
        project = self.project(design, build_dir)
        return project if (project / self.manifest).is_file() else self.build(design, build_dir)

    def summary(self, project: Path) -> int:
        """Print what was built (per layer) and return the exit code."""
        raise NotImplementedError

    def verify(self, design, build_dir, args) -> int:
        """Compare the built project with the reference; print the result, return the exit code."""
        raise NotImplementedError

    def compare(self, design, build_dir, n: int, workers: int | None = None, progress: bool = False) -> dict:
        """Verification without printing, for a sweep: {exact (bool), n, mismatches, compared
        (what against what)}, every stage counted for a backend that has several."""
        raise NotImplementedError

    def synth(self, design, build_dir) -> int:
        raise NotImplementedError

    def pnr(self, design, build_dir, part: str | None = None, progress: bool = True) -> int:
        """Open synthesis, place and route of the built project on an FPGA part; print, return the exit code."""
        raise FpgaflowError(f"pnr: the {self.title} backend has no open place-and-route flow (FINN's stitched RTL "
                            f"has: --backend finn)")

    def sweep(self, design, build_dir, targets: list[int]) -> list[dict]:
        """The built project folded (estimated, nothing written) for each target frames/s:
        backends.target.sweep_point per target."""
        raise NotImplementedError

    def fastest(self, design, build_dir) -> dict:
        """The design folded for the fastest target that fits the part (an estimate):
        {target_fps, fps, latency_us, resources, available, bottleneck, source}."""
        raise NotImplementedError

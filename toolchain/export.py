"""`textclf export`: a model directory as libraries for the user's own firmware project.

Two libraries land in the output folder, side by side: `textclf` (the runtime: tokenizer, int8
kernels, the classification API; the same for every model) and `<prefix>` (the model: its
compiled graph or its .tflite for TFLite Micro, its vocabulary, labels and golden vectors). A
second model exported into the same folder with another prefix shares the runtime, so two models
link into one firmware. Each format adds its manifests and layout:

  platformio  library.json per library (a project's lib/ folder)
  arduino     library.properties + src/ per library (Arduino IDE / arduino-cli libraries folder)
  cmake       CMakeLists.txt per library: a plain CMake library, or an ESP-IDF component
              (idf_component_register) when built under ESP-IDF (a project's components/ folder)

Stages, in order, none writing until all have passed: read and cross-check the model directory;
generate the sources; check the fit against `--target`'s flash and RAM; compile them for this
machine and replay the golden vectors (`--no-verify` skips it); write both folders in one switch.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from toolchain import __version__, atomic, cbuild
from toolchain.emit import ModelLibrary, default_prefix, model_library, read_model_dir, runtime_library
from toolchain.emit.ops.common import Options
from toolchain.emit.render import environment
from toolchain.errors import ToolchainError
from toolchain.resources import device_dir

FORMATS = ("platformio", "arduino", "cmake")
RUNTIME = "textclf"


@dataclass(frozen=True)
class ExportRequest:
    model_dir: Path
    out: Path
    format: str = "platformio"
    prefix: str | None = None
    backend: str = "compiled"
    target: str | None = None
    kernels: str = "optimized"
    verify: bool = True
    runtime_out: Path | None = None  # where the runtime library goes (default: beside the model's)

    def __post_init__(self):
        if self.format not in FORMATS:
            raise ToolchainError(f"format must be one of {', '.join(FORMATS)}, not {self.format!r}")
        for what, out in (("--out", self.out), ("--runtime-out", self.runtime_out)):
            if out is not None:
                check_folder(what, Path(out))

    def folder(self, library: str) -> Path:
        """Where a library of the export goes."""
        if library == RUNTIME and self.runtime_out is not None:
            return Path(self.runtime_out)
        return Path(self.out)


def check_folder(what: str, folder: Path) -> None:
    """An output folder is a writable folder or can be made as one (checked before anything is
    generated, so a bad path costs a second, not an export)."""
    try:
        if folder.exists() or folder.is_symlink():
            if not folder.is_dir():
                raise ToolchainError(f"{what} {folder} exists and is not a folder")
            if not os.access(folder, os.W_OK | os.X_OK):
                raise ToolchainError(f"{what} {folder} is not writable")
            return
        ancestor = folder.absolute().parent
        while not (ancestor.exists() or ancestor.is_symlink()):
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            raise ToolchainError(f"{what} {folder} cannot be created: {ancestor} is not a folder")
        if not os.access(ancestor, os.W_OK | os.X_OK):
            raise ToolchainError(f"{what} {folder} cannot be created: {ancestor} is not writable")
    except OSError as exc:
        raise ToolchainError(f"{what} {folder} cannot be used: {exc.strerror}") from None


@dataclass(frozen=True)
class Export:
    """What an export writes: {path relative to the output folder: bytes}, per library."""

    library: ModelLibrary
    files: dict[str, bytes]
    fit: object | None  # targets.Fit when a target was given

    @property
    def libraries(self) -> list[str]:
        return sorted({path.split("/", 1)[0] for path in self.files})


def _template(name: str, **context) -> bytes:
    return environment().get_template(name).render(**context).encode("utf-8")


def _runtime_files(fmt: str, sources: dict[str, bytes]) -> dict[str, bytes]:
    context = {"version": __version__, "sources": sorted(p for p in sources if p.endswith(".c"))}
    files = {f"{RUNTIME}/src/{path}": data for path, data in sources.items()}
    files[f"{RUNTIME}/README.md"] = _template("library/runtime_README.md.j2", **context)
    if fmt == "platformio":
        files[f"{RUNTIME}/library.json"] = _template("library/runtime_library.json.j2", **context)
    elif fmt == "arduino":
        files[f"{RUNTIME}/library.properties"] = _template("library/runtime_library.properties.j2", **context)
    else:
        files[f"{RUNTIME}/CMakeLists.txt"] = _template("library/runtime_CMakeLists.txt.j2", **context)
    return files


def _model_files(fmt: str, library: ModelLibrary, fit) -> dict[str, bytes]:
    prefix = library.prefix
    model = library.model
    metrics = _metrics(model.path)
    context = {
        "version": __version__,
        "prefix": prefix,
        "backend": library.backend,
        "model": model,
        "graph": library.graph,
        "metrics": metrics,
        "fit": fit,
        "sources": sorted(name for name in library.files if name.endswith((".c", ".cpp"))),
        "example": _example(fmt, prefix, model),
    }
    files = {f"{prefix}/src/{name}": text.encode("utf-8") for name, text in library.files.items()}
    files[f"{prefix}/README.md"] = _template("library/model_README.md.j2", **context)
    if fmt == "platformio":
        files[f"{prefix}/library.json"] = _template("library/model_library.json.j2", **context)
        files[f"{prefix}/examples/classify/main.c"] = _template("library/example_main.c.j2", **context)
    elif fmt == "arduino":
        files[f"{prefix}/library.properties"] = _template("library/model_library.properties.j2", **context)
        files[f"{prefix}/examples/classify/classify.ino"] = _template("library/example.ino.j2", **context)
    else:
        files[f"{prefix}/CMakeLists.txt"] = _template("library/model_CMakeLists.txt.j2", **context)
        files[f"{prefix}/examples/classify/main.c"] = _template("library/example_main.c.j2", **context)
    return files


def _example(fmt: str, prefix: str, model) -> dict:
    sentence = model.goldens[0].text if model.goldens else "a sentence to classify"
    return {"sentence": sentence, "format": fmt}


def _metrics(model_dir: Path) -> dict:
    """Figures for the model card, when metrics.json has them (it was validated as JSON)."""
    try:
        metrics = json.loads((model_dir / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    accuracy = metrics.get("accuracy_test") if isinstance(metrics, dict) else None
    if not isinstance(accuracy, dict):
        return {}
    return {k: v for k, v in accuracy.items() if isinstance(v, float) and 0.0 <= v <= 1.0}


def prepare(request: ExportRequest) -> Export:
    """Everything but the writing: read, generate, fit check, self-check."""
    from toolchain import targets

    target = targets.target(request.target) if request.target else None
    model = read_model_dir(request.model_dir)
    prefix = request.prefix or default_prefix(model.name)
    options = Options(kernels=request.kernels, packed_filters=target.core.dsp if target else True)
    library = model_library(model, prefix, request.backend, options)
    runtime = runtime_library()
    fit = targets.check_fit(target, library, runtime) if target else None
    if fit is not None:
        targets.require_fit(fit)
    files = {**_runtime_files(request.format, runtime), **_model_files(request.format, library, fit)}
    export = Export(library, dict(sorted(files.items())), fit)
    if request.verify:
        verify(export)
    return export


def check_goldens_with_tflm(model) -> None:
    """The goldens are what TFLite Micro (the oracle, pip tflite-micro, in a child process) computes
    for the model: so the replay below compares the exported C with TFLM itself, and a damaged
    model or goldens.json is named as such rather than as a C that disagrees."""
    import numpy as np

    from toolchain import tflm

    shape = flatbuffer_shape(model)
    cases = [[np.asarray(golden.ids, dtype=np.int32).reshape(shape)] for golden in model.goldens]
    arena = max(2 * model.tflm_arena, 64 * 1024, 4 * len(model.tflite.data))
    outputs = tflm.run_isolated(model.tflite.data, cases, 1, arena)
    for number, (golden, (logits,)) in enumerate(zip(model.goldens, outputs)):
        computed = [int(v) for v in np.asarray(logits).reshape(-1)]
        if computed != list(golden.logits):
            raise ToolchainError(
                f"self-check failed: {model.path / 'goldens.json'} vector {number} holds logits {list(golden.logits)}, "
                f"but TFLite Micro computes {computed} for this model: the model or its goldens are damaged"
            )


def flatbuffer_shape(model) -> tuple[int, ...]:
    subgraph = model.tflite.subgraph
    return tuple(int(d) for d in subgraph.tensors[int(subgraph.inputs[0])].shape)


def verify(export: Export, work: Path | None = None) -> int:
    """Checks the goldens against TFLite Micro, then compiles the exported sources for this machine
    (-Werror) and replays every golden vector: token ids and, for the compiled backend, int8
    logits must equal TFLM's. Returns the count."""
    import tempfile

    library = export.library
    check_goldens_with_tflm(library.model)
    with tempfile.TemporaryDirectory(prefix="textclf-verify-") as tmp:
        root = cbuild.write_sources(Path(tmp), {path: data for path, data in export.files.items() if "/src/" in path})
        runtime_src, model_src = root / RUNTIME / "src", root / library.prefix / "src"
        tokens_only = library.backend != "compiled"
        defines = [f'CHECK_HEADER="{library.prefix}.h"', f"CHECK_PREFIX={library.prefix}",
                   f"CHECK_SEQUENCE_LENGTH={library.model.sequence_length}"]
        sources = cbuild.c_sources(runtime_src, device_dir() / "checks" / "goldens.c")
        sources += [p for p in cbuild.c_sources(model_src) if not (tokens_only and p.name.endswith("_graph.c"))]
        if tokens_only:
            defines.append("CHECK_TOKENS_ONLY")
            # The TFLite Micro descriptor is C++ against TFLM; the tokenizer side is what compiles here.
            sources = [p for p in sources if p.suffix == ".c"]
        build = cbuild.Build(include_dirs=[runtime_src, model_src], defines=defines)
        program = build.program(sources, root / "check")
        result = cbuild.run(program, check=False)
        lines = result.stdout.decode(errors="replace").splitlines()
        bad = [line for line in lines if line != "ok"]
        if result.returncode != 0 or bad or len(lines) != len(library.model.goldens):
            raise ToolchainError(
                f"self-check failed: the exported C does not reproduce the goldens "
                f"({bad[0] if bad else f'exit {result.returncode}'}); please report this model"
            )
        return len(lines)


def write(export: Export, request: ExportRequest) -> list[Path]:
    """Writes the libraries, each folder replaced as a whole; the libraries of one output folder
    switch as one (the runtime first when it has a folder of its own)."""
    try:
        return _write(export, request)
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        raise ToolchainError(f"cannot write the export: {where}{exc.strerror or exc}") from None


def _write(export: Export, request: ExportRequest) -> list[Path]:
    written = []
    parents: dict[Path, list[str]] = {}
    for name in export.libraries:
        parents.setdefault(request.folder(name), []).append(name)
    for parent in sorted(parents, key=lambda p: RUNTIME not in parents[p]):
        parent.mkdir(parents=True, exist_ok=True)
        atomic.clean_stale(parent)
        staged: dict[Path, Path] = {}
        try:
            for name in parents[parent]:
                tmp = atomic.temp_dir_beside(parent / name)
                staged[parent / name] = tmp
                for path, data in export.files.items():
                    if path.split("/", 1)[0] == name:
                        destination = tmp / path.split("/", 1)[1]
                        destination.parent.mkdir(parents=True, exist_ok=True)
                        destination.write_bytes(data)
            atomic.replace_dirs(staged)
        finally:
            for tmp in staged.values():
                shutil.rmtree(tmp, ignore_errors=True)
        written += [parent / name for name in parents[parent]]
    return written


def differences(export: Export, request: ExportRequest) -> list[str]:
    """Files that are missing, different or extra on disk (empty when the export is current)."""
    problems = []
    for path, data in export.files.items():
        on_disk = request.folder(path.split("/", 1)[0]) / path
        if not on_disk.is_file():
            problems.append(f"missing {on_disk}")
        elif on_disk.read_bytes() != data:
            problems.append(f"differs {on_disk}")
    for name in export.libraries:
        folder = request.folder(name) / name
        expected = {path.split("/", 1)[1] for path in export.files if path.split("/", 1)[0] == name}
        if folder.is_dir():
            problems += [f"extra {p}" for p in sorted(folder.rglob("*"))
                         if p.is_file() and str(p.relative_to(folder)) not in expected]
    return problems


def summary(export: Export) -> dict:
    library = export.library
    graph = library.graph
    result = {"prefix": library.prefix, "backend": library.backend, "libraries": export.libraries,
              "files": len(export.files)}
    if graph is not None:
        result.update(ops=len(graph.ops), arena_bytes=graph.arena_bytes, weight_bytes=graph.weight_bytes)
    if export.fit is not None:
        result["fit"] = dataclasses.asdict(export.fit)
    return result

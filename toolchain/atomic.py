"""Writes that never leave anything half-written.

- `atomic_dir(target)`: a stage or a model directory is built in a temp directory beside it and
  renamed into place as a whole.
- `replace_dirs({target: new})`: several folders switch as one (an export writes a runtime and a
  model library): a journal records the switch before it starts, so a run killed in the middle is
  completed by the next one, and readers never see a new folder beside an old one for long.
- `clean_stale(parent)`: removes the `.<name>.*.tmp` leftovers of runs that were killed.

Directories end up with the permissions `mkdir` would give (0777 less the umask), not mkdtemp's 0700.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

JOURNAL = ".textclf-switch.json"
TMP_SUFFIX = ".tmp"
_OWNER = re.compile(r"\.pid(\d+)\.")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _make_public(directory: Path) -> None:
    os.chmod(directory, 0o777 & ~_umask())


def temp_dir_beside(target: Path) -> Path:
    """A fresh folder `.<name>.pid<pid>.<random>.tmp` beside `target`: the pid says whose it is."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.pid{os.getpid()}.", suffix=TMP_SUFFIX, dir=target.parent))
    _make_public(tmp)
    return tmp


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(parent: Path) -> None:
    """Finishes an interrupted switch in `parent` and removes temp folders of killed runs (a temp
    folder of a process still running, such as a second build in the same folder, is left alone)."""
    parent = Path(parent)
    if not parent.is_dir():
        return
    _finish_switch(parent)
    for leftover in parent.iterdir():
        if leftover.name.startswith(".") and leftover.name.endswith((TMP_SUFFIX, ".old")):
            owner = _OWNER.search(leftover.name)
            if owner and _alive(int(owner.group(1))):
                continue
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(target: Path):
    """Yields a temp directory beside `target`; on success it replaces `target` as a whole."""
    target = Path(target)
    tmp = temp_dir_beside(target)
    try:
        yield tmp
        replace_dirs({target: tmp})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def replace_dirs(switch: dict[Path, Path]) -> None:
    """Moves each new folder onto its target, all targets in one parent folder, as one switch."""
    targets = [Path(t) for t in switch]
    parents = {t.parent.resolve() for t in targets}
    if len(parents) != 1:
        raise ValueError("replace_dirs switches folders of one parent only")
    parent = parents.pop()
    plan = [{"target": t.name, "new": Path(n).name} for t, n in switch.items()]
    journal = parent / JOURNAL
    tmp_journal = parent / f".{JOURNAL}{TMP_SUFFIX}"
    tmp_journal.write_text(json.dumps(plan))
    os.replace(tmp_journal, journal)
    _finish_switch(parent)


def _finish_switch(parent: Path) -> None:
    """Carries out the journal in `parent`, if any (idempotent: a killed switch resumes here)."""
    journal = parent / JOURNAL
    if not journal.is_file():
        return
    try:
        plan = json.loads(journal.read_text())
    except ValueError:
        journal.unlink(missing_ok=True)
        return
    for step in plan:
        target, new = parent / step["target"], parent / step["new"]
        old = parent / f".{step['target']}.old"
        if new.exists():
            if target.exists():
                shutil.rmtree(old, ignore_errors=True)
                os.replace(target, old)
            os.replace(new, target)
        shutil.rmtree(old, ignore_errors=True)
    journal.unlink(missing_ok=True)

"""Progress bars with rate and ETA for every long stage (tqdm, on stderr)."""
import os

from tqdm import tqdm


def progress(total: int, desc: str, unit: str = "it"):
    """A tqdm bar; TEXTCLF_NO_PROGRESS=1 turns bars off (logs, CI)."""
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        dynamic_ncols=True,
        mininterval=1.0,
        disable=os.environ.get("TEXTCLF_NO_PROGRESS") == "1",
    )

"""Background music made here: a calm bed synthesised by ffmpeg, no recording of anyone's.

``WAGGLE_BACKGROUND_MUSIC=builtin:calm`` puts it under the voice (ducked by the
render); any other value is a file of your own. Off by default. The bed is a soft
pad playing I-V-vi-IV in C (four seconds a chord, two rounds, so it loops without
a seam), with a slow swell on each chord: generated from the expression below the
first time it is asked for, so nothing copyrighted is downloaded or shipped.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SECONDS = 32  # two rounds of the four chords: the render loops it
CHORD_SECONDS = 4
# Root, third and fifth of C, G, Am, F (Hz), as aevalsrc picks them by the chord index.
CHORDS = [(261.63, 329.63, 392.00), (196.00, 246.94, 293.66),
          (220.00, 261.63, 329.63), (174.61, 220.00, 261.63)]  # fmt: skip
BUILTIN = "builtin:"


def _pick(voice: int) -> str:
    """The chord's ``voice``-th note as an aevalsrc expression of t."""
    index = f"mod(floor(t/{CHORD_SECONDS}),4)"
    expr = str(CHORDS[3][voice])
    for n in (2, 1, 0):
        expr = f"if(eq({index},{n}),{CHORDS[n][voice]},{expr})"
    return expr


def _expression() -> str:
    swell = f"(0.55+0.45*sin(PI*mod(t,{CHORD_SECONDS})/{CHORD_SECONDS}))"
    notes = "+".join(
        f"{amp}*sin(2*PI*{mult}*{_pick(v)}*t)"
        for v, amp, mult in ((0, 0.09, 1), (1, 0.06, 1), (2, 0.06, 1), (0, 0.05, 0.5))
    )
    return f"{swell}*({notes})"


def builtin_bed(name: str, folder: Path) -> Path:
    """The built-in bed ``name`` (only "calm" so far), made on first use into ``folder``."""
    if name != "calm":
        raise ValueError(f"no built-in music {name!r}; there is builtin:calm")
    path = folder / f"bed-{name}.flac"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(".part.flac")
    subprocess.run(
        [
            *("ffmpeg", "-v", "error", "-y", "-f", "lavfi"),
            # In a filter graph a comma ends the filter: the expression's own are escaped.
            *("-i", f"aevalsrc={_expression().replace(',', chr(92) + ',')}:s=48000:d={SECONDS}"),
            *("-af", "lowpass=f=1800,aecho=0.8:0.7:60|120:0.25|0.15,volume=2.5"),
            *("-t", str(SECONDS), "-fflags", "+bitexact", "-c:a", "flac", str(staging)),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    os.replace(staging, path)
    return path


def music_file(setting: Path | None, beds: Path) -> Path | None:
    """The music the settings ask for: a file of the user's, a built-in bed (made in
    ``beds``), or none."""
    if setting is None:
        return None
    if str(setting).startswith(BUILTIN):
        return builtin_bed(str(setting).removeprefix(BUILTIN), beds)
    return setting

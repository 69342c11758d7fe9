"""Which H.264 encoder this machine can really use.

`ffmpeg -encoders` lists h264_nvenc whenever ffmpeg was built with it (Debian's
is), GPU or not, and datacenter GPUs (A100, H100, H200) have no NVENC engine at
all. So the answer comes from a one-frame test encode, once per process.
"""

from __future__ import annotations

import functools
import subprocess
from dataclasses import dataclass


@dataclass(frozen=True)
class EncoderChoice:
    name: str  # "h264_nvenc" or "libx264"
    reason: str  # why, for the task log and the stage record

    def args(self) -> dict[str, str | int]:
        if self.name == "h264_nvenc":
            return {
                "vcodec": "h264_nvenc",
                "preset": "p4",
                "tune": "hq",
                "rc": "vbr",
                "cq": 23,
                "b:v": "0",
                "maxrate": "8M",
                "bufsize": "16M",
            }
        # veryfast: on 2 cores slower presets cost 2x the time for +0.6 dB SSIM. The cap
        # keeps noisy photos from ballooning to ~18 Mb/s.
        return {
            "vcodec": "libx264",
            "preset": "veryfast",
            "crf": 23,
            "maxrate": "8M",
            "bufsize": "16M",
        }


@functools.cache
def h264_encoder(preference: str = "auto", ffmpeg: str = "ffmpeg") -> EncoderChoice:
    if preference == "libx264":
        return EncoderChoice("libx264", "configured (WAGGLE_VIDEO_ENCODER=libx264)")
    listed = subprocess.run(
        [ffmpeg, "-hide_banner", "-encoders"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    ).stdout
    if "h264_nvenc" not in listed:
        return EncoderChoice("libx264", "this ffmpeg has no h264_nvenc")
    probe = subprocess.run(
        [
            ffmpeg,
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "color=c=black:s=1080x1920:r=30",
            "-frames:v",
            "1",
            "-pix_fmt",
            "yuv420p",
            "-c:v",
            "h264_nvenc",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if probe.returncode == 0:
        return EncoderChoice("h264_nvenc", "a one-frame h264_nvenc test encode succeeded")
    lines = probe.stderr.strip().splitlines() or ["no message"]
    # The line naming the cause ("Cannot load libcuda.so.1", "No NVENC capable devices
    # found") comes before ffmpeg's generic "Error initializing output stream".
    error = next((ln for ln in lines if "nvenc" in ln.lower() or "cuda" in ln.lower()), lines[-1])
    if preference == "h264_nvenc":
        raise RuntimeError(f"WAGGLE_VIDEO_ENCODER=h264_nvenc but the test encode failed: {error}")
    return EncoderChoice("libx264", f"h264_nvenc test encode failed: {error}")

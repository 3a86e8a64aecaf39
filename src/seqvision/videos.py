"""Writing video files with PyAV: W&B videos of predicted frames, and real clips for the tests.

Below every layer that writes clips (the prediction task's media, the tests' fixtures, the
video benchmark); reading them, with frame sampling, is ``seqvision.data.video_io``. PyAV
rather than wandb's own writer, which would need moviepy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_video(path: str | Path, frames: np.ndarray, fps: int = 10, codec: str | None = None) -> Path:
    """Writes uint8 frames ``(T, H, W, 3)`` (or ``(T, H, W)`` grey); codec from the suffix by default."""
    import av

    path = Path(path)
    frames = np.asarray(frames, dtype=np.uint8)
    if frames.ndim == 3:
        frames = np.repeat(frames[..., None], 3, axis=-1)
    codec = codec or {".gif": "gif", ".avi": "mpeg4", ".mp4": "libx264", ".webm": "libvpx-vp9"}.get(path.suffix, "mpeg4")
    h, w = frames.shape[1:3]
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = w + w % 2, h + h % 2  # most codecs need even sizes
        stream.pix_fmt = "rgb8" if codec == "gif" else "yuv420p"
        for f in frames:
            if w % 2 or h % 2:
                f = np.pad(f, ((0, h % 2), (0, w % 2), (0, 0)))
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")))
        container.mux(stream.encode())
    return path

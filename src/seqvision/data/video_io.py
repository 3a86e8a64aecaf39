"""Reading and writing video files with PyAV (torchvision 0.29 has no ``read_video``).

``read_clip`` decodes only what it needs: frames are sampled as ``num_frames`` frames
``stride`` apart around the middle of the clip, decoding stops after the last one, and each
frame is resized by FFmpeg's swscale while it is converted to RGB (no full-size copy).
Writing clips is ``seqvision.videos.write_video``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


class ClipTooShort(ValueError):
    """The clip has fewer frames than ``(num_frames - 1) * stride + 1``."""


def sample_window(total: int, num_frames: int, stride: int) -> list[int]:
    """Frame indices of the centred window of ``num_frames`` frames ``stride`` apart."""
    span = (num_frames - 1) * stride + 1
    if total < span:
        raise ClipTooShort(f"{total} frames, need {span} (num_frames={num_frames}, stride={stride})")
    start = (total - span) // 2
    return list(range(start, start + span, stride))


def count_frames(container) -> int:
    """The stream's frame count from the header, or by demuxing packets when the header has none."""
    stream = container.streams.video[0]
    if stream.frames:
        return int(stream.frames)
    n = sum(1 for p in container.demux(stream) if p.size)
    container.seek(0)
    return n


def read_clip(path: str | Path, num_frames: int, stride: int, size: int, channels: int = 3) -> np.ndarray:
    """uint8 ``(num_frames, channels, size, size)``; raises ClipTooShort or PyAV's errors."""
    import av

    fmt = "gray" if channels == 1 else "rgb24"
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError("no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        wanted = sample_window(count_frames(container), num_frames, stride)
        want, out = set(wanted), []
        for i, frame in enumerate(container.decode(stream)):
            if i in want:
                out.append(frame.to_ndarray(width=size, height=size, format=fmt))
                if len(out) == num_frames:
                    break
    if len(out) < num_frames:  # the header promised more frames than the stream holds
        raise ClipTooShort(f"decoded {len(out)} of the {num_frames} sampled frames (header count was wrong)")
    clip = np.stack(out)
    return clip[:, None] if channels == 1 else clip.transpose(0, 3, 1, 2)

"""The frames kept while a round's throw is read, so the result can show the box it was read
from. Owned by the countdown screen (``game.screens.countdown``), one a round."""

from __future__ import annotations

import numpy as np


class Stills:
    """At most one frame a gesture (its most confident reading in the capture window), plus the
    newest; ``still_for`` then picks the box of the frame the throw was decided on."""

    def __init__(self, player_input):
        self.input = player_input
        self.kept: dict[str, tuple[float, object]] = {}

    def clear(self) -> None:
        self.kept = {}

    def remember(self, since: float, until: float) -> None:
        """Keep the newest camera frame if its reading falls in ``since..until`` (the capture
        window) and is the most confident of its gesture so far."""
        frame, reading = self.input.frame(), self.input.reading()
        if frame is None or getattr(frame, "image", None) is None or reading is None:
            return
        if reading.frame_index != frame.index or not since - 1e-9 <= reading.timestamp <= until:
            return
        key = str(reading.gesture)
        best = self.kept.get(key)
        if best is None or reading.confidence > best[0]:
            self.kept[key] = (float(reading.confidence), frame)
        self.kept["newest"] = (0.0, frame)

    def still_for(self, frame_index: int | None) -> np.ndarray | None:
        """The box the recogniser read in frame ``frame_index`` (else the nearest kept frame), as
        the player saw it in the preview (mirrored for a camera); None without frames. The kept
        frames are let go."""
        frames = [frame for _, frame in self.kept.values()]
        self.kept = {}
        if not frames:
            return None
        if frame_index is None:
            frame = max(frames, key=lambda f: f.index)
        else:
            frame = min(frames, key=lambda f: abs(f.index - frame_index))
        image = frame.image
        x, y, w, h = self.input.roi_rect(image.shape)
        crop = image[y : y + h, x : x + w]
        return np.ascontiguousarray(crop[:, ::-1] if self.input.mirror else crop)

"""A filled-contour background as a PNG data URI (pure NumPy + zlib), for animated maps.

Plotly removes contour and heatmap traces while it plays animation frames that do not carry
them (seen with Streamlit 1.67's plotly.js), and carrying a 160x160 field in every frame would
multiply the figure's size. A layout image is untouched by frames, so the race map draws its
surface as one: values are cut into ``levels`` bands (grey, dark = low), with darker pixels
where the band changes (the contour lines).
"""

from __future__ import annotations

import base64
import struct
import zlib

import numpy as np

LIGHT, DARK = 245.0, 70.0  # grey of the highest and the lowest band


def band_greys(levels: int) -> np.ndarray:
    """``(levels,)`` grey values from dark (band 0 = lowest values) to light."""
    return np.linspace(DARK, LIGHT, levels)


def contour_png(values: np.ndarray, levels: int = 24, line: float = 0.75) -> str:
    """``values (ny, nx)`` (row 0 = lowest y) -> ``data:image/png;base64,...``.

    Each value falls into one of ``levels`` equal bands between the finite min and max; a band
    boundary darkens its pixels by the factor ``line``. NaN/inf pixels get the lightest band.
    """
    v = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(v)
    lo, hi = (float(v[finite].min()), float(v[finite].max())) if finite.any() else (0.0, 1.0)
    scaled = (np.where(finite, v, hi) - lo) / max(hi - lo, 1e-300)
    band = np.clip((scaled * levels).astype(int), 0, levels - 1)
    grey = band_greys(levels)[band]
    edge = np.zeros(band.shape, dtype=bool)
    edge[1:, :] |= band[1:, :] != band[:-1, :]
    edge[:, 1:] |= band[:, 1:] != band[:, :-1]
    grey = np.where(edge, grey * line, grey)
    pixels = np.flipud(grey).round().astype(np.uint8)  # PNG row 0 is the top (highest y)
    return "data:image/png;base64," + base64.b64encode(_png_gray(pixels)).decode("ascii")


def _png_gray(pixels: np.ndarray) -> bytes:
    """Encode ``pixels (h, w) uint8`` as an 8-bit greyscale PNG."""
    h, w = pixels.shape
    raw = np.hstack([np.zeros((h, 1), dtype=np.uint8), pixels]).tobytes()  # filter 0 per row

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )

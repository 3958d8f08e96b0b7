"""
The telescope and camera: exposure level, seeing, flat field, photon and read noise, saturation.
"""

import math

import numpy as np

from sunpy_slic.data.synthetic._texture import _gauss_blur

_SATURATION = 16383.0  # a 14-bit camera


def _loguniform(rng, lo, hi):
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


def _draw_instrument(rng, photo, seeing=None):
    """Exposure level, seeing, detector and flat-field parameters."""
    level = _loguniform(rng, 300.0, 5000.0)
    inst = {
        "level": level,
        "exposure": level / _loguniform(rng, 2.0e3, 4.0e4),
        "seeing": rng.uniform(*(seeing or ((0.5, 1.8) if photo else (0.6, 2.5)))),
        "bias": rng.uniform(20.0, 120.0),
        "read": rng.uniform(1.5, 8.0),
        "gain": _loguniform(rng, 6.0, 60.0),
        "tilt": rng.uniform(-0.12, 0.12, 2),
        "vignetting": rng.uniform(0.0, 0.2),
    }
    return inst


def _observe(nrng, cv, img, inst, shift=(0.0, 0.0)):
    """Seeing, flat field, exposure level, photon and read noise; returns the float32 DN image."""
    img = cv.crop(_gauss_blur(img, [(1.0, inst["seeing"])], shift=shift)).astype(np.float32)
    h, w = img.shape
    yn = np.linspace(-1, 1, h, dtype=np.float32)[:, None]
    xn = np.linspace(-1, 1, w, dtype=np.float32)[None, :]
    gy, gx = inst["tilt"]
    level = np.float32(inst["level"])
    vig = np.float32(0.5 * inst["vignetting"])
    flat = (level * (1 + np.float32(gy) * yn) - level * vig * yn * yn) + (
        level * np.float32(gx) * xn - level * vig * xn * xn
    )
    signal = img * flat
    np.maximum(signal, 0, out=signal)
    noise = nrng.standard_normal((h, w), dtype=np.float32)
    noise *= np.sqrt(signal * np.float32(1 / inst["gain"]) + np.float32(inst["read"] ** 2))
    signal += noise
    signal += np.float32(inst["bias"])
    np.rint(signal, out=signal)
    return np.clip(signal, 1.0, _SATURATION, out=signal)

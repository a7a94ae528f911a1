"""Rendered forms and what scanners, printers and phones do to them, for the image tests.

Each degradation is a small, deterministic function of a grayscale page (a
seeded generator where there is randomness), so a failing case can be
reproduced alone. `truth_transform` returns, with the degraded page, the 3x3
matrix that maps canonical pixels to pixels of the degraded page, so a test
can check where each box landed.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from forms import (
    FormKind,
    QrPayload,
    clean_values,
    form_spec,
    sign_payload,
)
from intake.scan import Gray
from render import rasterise_pdf, render_form_pdf
from samples.make_previews import SAMPLE_VALUES

QR_KEY = b"intake-tests-qr-key"
MAILBOX = "kopplingar@example.se"
Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Form:
    kind: FormKind
    payload: QrPayload
    pdf: bytes


@functools.cache
def issued_form(kind: FormKind, form_id: str | None = None, key: bytes = QR_KEY) -> Form:
    """A pre-filled form of `kind` signed with `key` (a fixed id per kind unless given)."""
    spec = form_spec(kind)
    fid = form_id or {FormKind.DUAL: "7K3QX9P2MD", FormKind.DISCONNECT: "4HBV8WT6RC"}[kind]
    payload = sign_payload(key, kind.code, spec.version, fid)
    pdf = render_form_pdf(spec, clean_values(kind, SAMPLE_VALUES[kind]), mailbox=MAILBOX,
                          payload=payload)
    return Form(kind, payload, pdf)


@functools.cache
def _page(kind: FormKind, dpi: int) -> Gray:
    page = rasterise_pdf(issued_form(kind).pdf, dpi)[0]
    page.flags.writeable = False
    return page


def page(kind: FormKind, dpi: int) -> Gray:
    """The issued form of `kind` rasterised at `dpi` (a fresh copy to draw on)."""
    return _page(kind, dpi).copy()


# --- geometry: each returns the page and the canonical->page matrix ----------


def _u8(image: object) -> Gray:
    return np.asarray(image, np.uint8)


def _warp(image: Gray, m: Matrix, size: tuple[int, int]) -> Gray:
    return _u8(cv2.warpPerspective(image, m, size, flags=cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_CONSTANT, borderValue=255))


def rotate(image: Gray, degrees: float) -> tuple[Gray, Matrix]:
    """Turned counter-clockwise by `degrees` on a canvas that holds all of it."""
    h, w = image.shape
    a = math.radians(degrees)
    cos, sin = abs(math.cos(a)), abs(math.sin(a))
    out_w, out_h = round(w * cos + h * sin), round(w * sin + h * cos)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    m[0, 2] += (out_w - w) / 2
    m[1, 2] += (out_h - h) / 2
    full = np.vstack([m, [0.0, 0.0, 1.0]])
    if degrees % 90 == 0:
        turns = round(degrees / 90) % 4
        return np.ascontiguousarray(np.rot90(image, turns)), full
    return _warp(image, full, (out_w, out_h)), full


def perspective(image: Gray, strength: float, seed: int) -> tuple[Gray, Matrix]:
    """A phone photo's keystone: each corner moved inwards by up to `strength` of the side."""
    rng = np.random.default_rng(seed)
    h, w = image.shape
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    jitter = rng.uniform(0, strength, size=(4, 2)) * np.array([w, h])
    signs = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]])
    dst = (src + jitter * signs).astype(np.float32)
    m = np.asarray(cv2.getPerspectiveTransform(src, dst), np.float64)
    return _warp(image, m, (w, h)), m


def rescale(image: Gray, factor: float) -> tuple[Gray, Matrix]:
    h, w = image.shape
    size = (round(w * factor), round(h * factor))
    out = _u8(cv2.resize(image, size,
                         interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC))
    return out, np.diag([size[0] / w, size[1] / h, 1.0])


# --- photometric: the geometry stays --------------------------------------------


def jpeg(image: Gray, quality: int) -> Gray:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return _u8(cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE))


def noise(image: Gray, sigma: float, seed: int) -> Gray:
    rng = np.random.default_rng(seed)
    noisy = image.astype(np.float32) + rng.normal(0, sigma, image.shape).astype(np.float32)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def speckle(image: Gray, share: float, seed: int) -> Gray:
    """Salt and pepper: `share` of the pixels turned black or white (a dirty scanner glass)."""
    rng = np.random.default_rng(seed)
    out = image.copy()
    hit = rng.random(image.shape) < share
    out[hit] = rng.choice(np.array([0, 255], np.uint8), size=int(hit.sum()))
    return out


def blur(image: Gray, sigma: float) -> Gray:
    return _u8(cv2.GaussianBlur(image, (0, 0), sigma))


def threshold(image: Gray, level: int = 150) -> Gray:
    """Fax-like black and white."""
    return np.where(image < level, 0, 255).astype(np.uint8)


def shadow(image: Gray, depth: float, seed: int) -> Gray:
    """Uneven light: a smooth gradient darkening part of the page by up to `depth` (0..1)."""
    rng = np.random.default_rng(seed)
    h, w = image.shape
    angle = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ramp = (xx / w - 0.5) * math.cos(angle) + (yy / h - 0.5) * math.sin(angle)
    light = 1.0 - depth * (ramp - ramp.min()) / (ramp.max() - ramp.min())
    return _u8(np.clip(image.astype(np.float32) * light, 0, 255))


def gray_paper(image: Gray, level: int = 200) -> Gray:
    """Recycled paper or a scanner's auto-exposure: white becomes `level`."""
    return (image.astype(np.float32) * (level / 255.0)).astype(np.uint8)


# --- ink -----------------------------------------------------------------------


def scribble(image: Gray, box_px: tuple[int, int, int, int], seed: int, *,
             thickness: int = 2, ink: int = 40, strokes: int = 3) -> Gray:
    """A handwritten-looking signature: smooth pen strokes inside `box_px` (l, t, r, b)."""
    rng = np.random.default_rng(seed)
    out = image.copy()
    left, top, right, bottom = box_px
    w, h = right - left, bottom - top
    for _ in range(strokes):
        n = 40
        t = np.linspace(0, 1, n)
        x0 = rng.uniform(0.1, 0.4)
        xs = x0 + t * rng.uniform(0.3, 0.5) + 0.04 * np.sin(t * rng.uniform(8, 20))
        ys = 0.5 + 0.28 * np.sin(t * rng.uniform(6, 14) + rng.uniform(0, 6)) * rng.uniform(0.5, 1)
        pts = np.stack([left + xs * w, top + ys * h], axis=1).round().astype(np.int32)
        cv2.polylines(out, [pts], isClosed=False, color=ink, thickness=thickness,
                      lineType=cv2.LINE_AA)
    return out


def cover(image: Gray, box_px: tuple[int, int, int, int], value: int = 255) -> Gray:
    out = image.copy()
    left, top, right, bottom = box_px
    out[max(top, 0):bottom, max(left, 0):right] = value
    return out


def project(m: Matrix, points: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Points (N×2) through the 3x3 matrix `m`."""
    ones = np.ones((len(points), 1))
    mapped = np.hstack([points, ones]) @ m.T
    out: npt.NDArray[np.float64] = mapped[:, :2] / mapped[:, 2:3]
    return out

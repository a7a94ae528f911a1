"""From a clean page to what a scanner, a fax or a phone makes of it.

Input is the filled page at the render resolution (RGB, 300 dpi); output is
one page as the file will hold it: grey or colour 8-bit, or 1-bit for a
fax. Scans keep the page's shape (resampled to the scan's dpi, turned a
little or upside down, sheared like a sheet pulled crooked through a
feeder, on a canvas big enough for the whole turned page, as a scanner's
auto-crop leaves it). Photos put the page on a desk with perspective, uneven
light and a shadow. The order follows the physics: paper damage, geometry,
light, optics (blur), sensor noise, then the file's own quantisation.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from samples.scans.plan import ScanPlan

Image = npt.NDArray[np.uint8]
RENDER_DPI = 300
LID_WHITE = 246  # what a flatbed's lid looks like around the page


def stain(page: Image, box_px: tuple[int, int, int, int], rng: np.random.Generator,
          grow: float = 1.0) -> None:
    """An ink blot or a dark coffee stain over part of `box_px` (l, t, r, b), in place."""
    left, top, right, _ = box_px
    size = right - left
    cx = left + size * float(rng.uniform(0.3, 0.7))
    cy = top + size * float(rng.uniform(0.3, 0.7))
    radius = size * float(rng.uniform(0.28, 0.38)) * grow
    theta = np.linspace(0, 2 * np.pi, 90, endpoint=False)
    wobble = sum(float(rng.uniform(0, 0.12)) * np.sin(k * theta + float(rng.uniform(0, 6.3)))
                 for k in range(2, 6))
    r = radius * (1 + wobble)
    poly = np.column_stack([cx + r * np.cos(theta), cy + r * np.sin(theta)]).astype(np.int32)
    mask = np.zeros(page.shape[:2], dtype=np.uint8)
    cv2.fillPoly(mask, [poly], 255, cv2.LINE_AA)
    soft = cv2.GaussianBlur(mask, (0, 0), max(1.0, radius * 0.04))
    blot = rng.random() < 0.5
    colour = np.array((35, 40, 90) if blot else (95, 62, 38), dtype=np.float32)
    strength = float(rng.uniform(0.9, 0.97)) if blot else float(rng.uniform(0.8, 0.9))
    a = soft.astype(np.float32)[..., None] / 255.0 * strength
    page[:] = (page * (1 - a) + colour * a).astype(np.uint8)


def _lighting(shape: tuple[int, int], strength: float, rng: np.random.Generator) -> npt.NDArray[
        np.float32]:
    """A smooth gain field: brighter on one side, a soft hot spot, darker corners."""
    h, w = shape
    coarse = rng.uniform(1 - strength, 1.0, (3, 3)).astype(np.float32)
    field = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    vignette = ((xx / w - 0.5) ** 2 + (yy / h - 0.5) ** 2) * strength * 0.8
    gain: npt.NDArray[np.float32] = np.clip(field - vignette, 0.3, 1.05).astype(np.float32)
    return gain


def _shadow(shape: tuple[int, int], rng: np.random.Generator) -> npt.NDArray[np.float32]:
    """The shadow of a hand or a phone: a dark soft-edged polygon from one edge."""
    h, w = shape
    edge = int(rng.integers(4))
    depth = float(rng.uniform(0.3, 0.55))  # far enough in to fall on the page
    a, b = sorted(rng.uniform(0.1, 0.9, 2).tolist())
    if edge == 0:
        pts = [(a * w, 0), (b * w, 0), (b * w * 1.1, depth * h), (a * w * 0.9, depth * h * 0.8)]
    elif edge == 1:
        pts = [(w, a * h), (w, b * h), ((1 - depth) * w, b * h), ((1 - depth * 0.7) * w, a * h)]
    elif edge == 2:
        pts = [(a * w, h), (b * w, h), (b * w, (1 - depth) * h), (a * w, (1 - depth * 0.6) * h)]
    else:
        pts = [(0, a * h), (0, b * h), (depth * w, b * h), (depth * w * 0.8, a * h)]
    mask = np.zeros((h, w), dtype=np.float32)
    cv2.fillPoly(mask, [np.array(pts, dtype=np.int32)], 1.0)
    soft = np.asarray(cv2.GaussianBlur(mask, (0, 0), max(h, w) * 0.02), dtype=np.float32)
    return 1.0 - soft * np.float32(rng.uniform(0.35, 0.55))


def _finish(img: npt.NDArray[np.float32], plan: ScanPlan, rng: np.random.Generator) -> Image:
    """Light, optics and sensor, then 8 bits (or a fax's 1 bit, as 0/255)."""
    if plan.lighting:
        gain = _lighting(img.shape[:2], plan.lighting, rng)
        img *= gain[..., None] if img.ndim == 3 else gain
    if plan.shadow:
        shade = _shadow(img.shape[:2], rng)
        img *= shade[..., None] if img.ndim == 3 else shade
    if plan.blur:
        img = np.asarray(cv2.GaussianBlur(img, (0, 0), plan.blur), dtype=np.float32)
    if plan.noise:
        img += rng.normal(0, plan.noise, img.shape).astype(np.float32)
    out = np.clip(img, 0, 255).astype(np.uint8)
    if plan.grey_levels:
        step = 256 // plan.grey_levels
        out = ((out // step) * (255 / (plan.grey_levels - 1))).round().astype(np.uint8)
    if plan.threshold:
        gray = out if out.ndim == 2 else cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)
        level = float(rng.uniform(130, 170))
        out = np.where(gray < level, 0, 255).astype(np.uint8)
        # A fax line drops the odd dot and adds a few specks.
        specks = rng.random(out.shape) < 0.0004
        out[specks] = 255 - out[specks]
    return out


def scan(page: Image, plan: ScanPlan, rng: np.random.Generator) -> Image:
    """A flatbed or feeder scan of `page` (RGB at RENDER_DPI): grey, colour, or fax."""
    src = page if plan.colour and not plan.threshold else cv2.cvtColor(page, cv2.COLOR_RGB2GRAY)
    h, w = src.shape[:2]
    k = plan.dpi / RENDER_DPI
    angle = plan.rotation + (180.0 if plan.upside_down else 0.0)
    rad = np.deg2rad(plan.rotation)
    # The canvas holds the whole turned page plus a few millimetres of lid.
    margin = 3 * plan.dpi / 25.4
    out_w = int((w * abs(np.cos(rad)) + h * abs(np.sin(rad))) * k + 2 * margin)
    out_h = int((h * abs(np.cos(rad)) + w * abs(np.sin(rad))) * k + 2 * margin)
    m = np.asarray(cv2.getRotationMatrix2D((w / 2, h / 2), angle, k), dtype=np.float64)
    m[0, 1] += plan.shear * k
    m[0, 2] += out_w / 2 - w / 2 - plan.shear * k * h / 2
    m[1, 2] += out_h / 2 - h / 2
    m[:, 2] += rng.uniform(-margin * 0.5, margin * 0.5, 2)
    if k < 1:
        # Scanner optics integrate over the pixel; warping alone would alias.
        src = np.asarray(cv2.GaussianBlur(src, (0, 0), 0.45 / k), dtype=np.uint8)
    border = (LID_WHITE,) * 3 if src.ndim == 3 else LID_WHITE
    img = cv2.warpAffine(src, m, (out_w, out_h), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=border)
    return _finish(img.astype(np.float32), plan, rng)


def _desk(h: int, w: int, rng: np.random.Generator) -> npt.NDArray[np.float32]:
    """A table top: a base colour, slow blotches and a grain along one direction."""
    base = np.array(rng.uniform([90, 70, 50], [170, 140, 110]), dtype=np.float32)
    blotches = cv2.resize(rng.normal(1.0, 0.08, (6, 8)).astype(np.float32), (w, h),
                          interpolation=cv2.INTER_CUBIC)
    grain = cv2.resize(rng.normal(0, 0.05, (h // 40 + 1, 1)).astype(np.float32), (w, h),
                       interpolation=cv2.INTER_LINEAR)
    return base[None, None, :] * (blotches + grain)[..., None]


def photo(page: Image, plan: ScanPlan, rng: np.random.Generator) -> Image:
    """A phone photo of `page` (RGB at RENDER_DPI) lying on a desk."""
    out_h = plan.photo_long_side
    out_w = out_h * 3 // 4
    h, w = page.shape[:2]
    fill = float(rng.uniform(0.72, 0.88))  # share of the photo's height the page takes
    scale = out_h * fill / h
    small = cv2.resize(page, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    sh, sw = small.shape[:2]
    # Paper is warmer and greyer than a render's white.
    paper = small.astype(np.float32) * np.array([0.97, 0.95, 0.9], dtype=np.float32)
    src = np.array([[0, 0], [sw, 0], [sw, sh], [0, sh]], dtype=np.float32)
    centre = np.array([out_w / 2, out_h / 2]) + rng.normal(0, out_h * 0.015, 2)
    rad = np.deg2rad(plan.rotation + (180.0 if plan.upside_down else 0.0))
    rot = np.array([[np.cos(rad), -np.sin(rad)], [np.sin(rad), np.cos(rad)]])
    corners = (src - [sw / 2, sh / 2]) @ rot.T + centre
    # Perspective: the camera is never square to the desk; the far edge looks narrower.
    corners += rng.uniform(-plan.perspective, plan.perspective, (4, 2)) * [sw, sh]
    tilt = float(rng.uniform(0, plan.perspective)) * sw
    corners[[0, 1] if not plan.upside_down else [2, 3], 0] += [tilt, -tilt]
    # Keep the whole sheet in the frame: people photograph all four corners (as asked).
    span = corners.max(axis=0) - corners.min(axis=0)
    corners = (corners - centre) * min(1.0, *(0.96 * np.array([out_w, out_h]) / span)) + centre
    corners += np.maximum(0, 0.01 * out_h - corners.min(axis=0))
    corners -= np.maximum(0, corners.max(axis=0) - np.array([out_w, out_h]) * 0.99)
    hm = cv2.getPerspectiveTransform(src, corners.astype(np.float32))
    warped = cv2.warpPerspective(paper, hm, (out_w, out_h), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.ones((sh, sw), dtype=np.float32), hm, (out_w, out_h),
                               flags=cv2.INTER_LINEAR)[..., None]
    img = np.asarray(warped * mask + _desk(out_h, out_w, rng) * (1 - mask), dtype=np.float32)
    return _finish(img, plan, rng)


def blank_sheet(shape: tuple[int, int], previous: Image | None,
                rng: np.random.Generator) -> Image:
    """An empty sheet (RGB at RENDER_DPI); the page before it may show through, mirrored."""
    sheet = np.full((*shape, 3), 252, dtype=np.float32)
    if previous is not None and rng.random() < 0.6:
        ghost = cv2.GaussianBlur(cv2.flip(previous, 1).astype(np.float32), (0, 0), 3.0)
        sheet -= (255 - ghost) * float(rng.uniform(0.015, 0.04))
    return np.clip(sheet, 0, 255).astype(np.uint8)


def degradations(plan: ScanPlan) -> list[str]:
    """The names (with values) of what `scan` or `photo` does for `plan`, for the truth file."""
    out = ["photo", f"perspective={plan.perspective:.2f}", "background"] if plan.photo else [
        f"dpi={plan.dpi}"]
    if plan.rotation:
        out.append(f"rotate={plan.rotation:+.2f}")
    if plan.upside_down:
        out.append("rotate180")
    if plan.shear:
        out.append(f"skew={plan.shear:+.3f}")
    if plan.lighting:
        out.append(f"lighting={plan.lighting:.2f}")
    if plan.shadow:
        out.append("shadow")
    if plan.blur:
        out.append(f"blur={plan.blur:.1f}")
    if plan.noise:
        out.append(f"noise={plan.noise:.1f}")
    if plan.threshold:
        out += ["threshold", "speckle"]
    if plan.grey_levels:
        out.append(f"grey_levels={plan.grey_levels}")
    if plan.jpeg_quality is not None:
        out.append(f"jpeg={plan.jpeg_quality}")
    return out

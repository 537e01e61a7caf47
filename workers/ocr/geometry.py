"""Where a prepared image's pixels came from, so that what the engine finds maps back onto the page.

The engine may read a copy of the page that was enlarged, bordered, turned, deskewed or flattened (a photo's
perspective). Every step that moves pixels records a transform from the prepared image's coordinates back to
the image it was made from; a `Chain` of them maps a word box found on the engine's image to the page as it
was loaded (the page's own pixel grid), where the outputs place it.

Coordinates are continuous pixel coordinates: pixel (i, j) covers [i, i + 1) x [j, j + 1), so an image of
width w spans x in [0, w]; a TSV box (left, top, left + width, top + height) is in the same units. Points are
numpy arrays of shape (n, 2) holding x, y.

Two kinds of transform cover every step: `Projective` (a 3 x 3 matrix: scaling, borders, crops, quarter
turns, rotations about a point, perspective) and `Remap` (a sampled map from each prepared pixel to its
source, as a dewarp made by cv2.remap has). Consecutive projectives are multiplied into one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

Box = tuple[float, float, float, float]  # x0, y0, x1, y1
Quad = tuple[tuple[float, float], tuple[float, float], tuple[float, float], tuple[float, float]]

__all__ = ["Box", "Chain", "Projective", "Quad", "Remap", "SourceMap", "quad_bbox"]


class SourceMap(Protocol):
    """A transform from a prepared image's coordinates back to the image it was made from."""

    def to_source(self, points: np.ndarray) -> np.ndarray: ...


def _as_points(points: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    array = np.asarray(points, dtype=np.float64)
    return array.reshape(-1, 2)


@dataclass(frozen=True)
class Projective:
    """Prepared = M @ source, in homogeneous coordinates; `matrix` is M (source -> prepared), row-major."""

    matrix: tuple[float, ...]  # nine numbers

    @property
    def array(self) -> np.ndarray:
        return np.asarray(self.matrix, dtype=np.float64).reshape(3, 3)

    @classmethod
    def of(cls, array: np.ndarray) -> Projective:
        array = np.asarray(array, dtype=np.float64).reshape(3, 3)
        return cls(tuple(float(v) for v in (array / array[2, 2]).ravel()))

    @classmethod
    def identity(cls) -> Projective:
        return cls.of(np.eye(3))

    @classmethod
    def scale(cls, fx: float, fy: float | None = None) -> Projective:
        """The source enlarged by fx (and fy; the same when not given): an image of w x h becomes fx*w x fy*h."""
        return cls.of(np.diag([fx, fx if fy is None else fy, 1.0]))

    @classmethod
    def resize(cls, source_size: tuple[int, int], prepared_size: tuple[int, int]) -> Projective:
        """The source resized to exactly `prepared_size` (rounding included)."""
        return cls.scale(prepared_size[0] / source_size[0], prepared_size[1] / source_size[1])

    @classmethod
    def offset(cls, dx: float, dy: float) -> Projective:
        """The source moved by (dx, dy): a border of b adds (b, b), a crop at (x0, y0) moves by (-x0, -y0)."""
        return cls.of(np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]]))

    @classmethod
    def quarter_turn(cls, degrees: int, source_size: tuple[int, int]) -> Projective:
        """The source turned clockwise by a multiple of 90 degrees (imageops.turn_clockwise)."""
        width, height = source_size
        turns = {
            0: [[1, 0, 0], [0, 1, 0]],
            90: [[0, -1, height], [1, 0, 0]],
            180: [[-1, 0, width], [0, -1, height]],
            270: [[0, 1, 0], [-1, 0, width]],
        }
        degrees %= 360
        if degrees not in turns:
            raise ValueError(f"not a quarter turn: {degrees}")
        return cls.of(np.array([*turns[degrees], [0, 0, 1]], dtype=np.float64))

    @classmethod
    def rotation(cls, degrees: float, source_size: tuple[int, int]) -> Projective:
        """The source turned counter-clockwise by `degrees` about its centre, keeping its size, as Pillow's
        Image.rotate(degrees) does (imageops.rotate_degrees)."""
        cx, cy = source_size[0] / 2, source_size[1] / 2
        a = math.radians(degrees)
        cos, sin = math.cos(a), math.sin(a)
        # Counter-clockwise on the screen (y grows downwards): a point right of the centre moves above it.
        turn = np.array([[cos, sin, 0.0], [-sin, cos, 0.0], [0.0, 0.0, 1.0]])
        return cls.of(cls.offset(cx, cy).array @ turn @ cls.offset(-cx, -cy).array)

    def then(self, other: Projective) -> Projective:
        """This transform followed by `other` (both source -> prepared)."""
        return Projective.of(other.array @ self.array)

    def to_prepared(self, points: np.ndarray) -> np.ndarray:
        return _apply(self.array, _as_points(points))

    def to_source(self, points: np.ndarray) -> np.ndarray:
        return _apply(np.linalg.inv(self.array), _as_points(points))


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    homogeneous = np.hstack([points, np.ones((len(points), 1))]) @ matrix.T
    return np.asarray(homogeneous[:, :2] / homogeneous[:, 2:3])


@dataclass(frozen=True, eq=False)
class Remap:
    """A prepared image made by sampling the source at (map_x, map_y) for each of its pixels (cv2.remap's
    maps), kept at every `step`-th pixel: a point maps back by bilinear interpolation between the samples."""

    map_x: np.ndarray  # shape (rows, cols): source x of prepared pixel (col * step, row * step)
    map_y: np.ndarray
    step: int = 1

    def to_source(self, points: np.ndarray) -> np.ndarray:
        points = _as_points(points)
        rows, cols = self.map_x.shape
        # Pixel centres: prepared pixel (i, j) is sampled at source (map_x, map_y) for its centre i + 0.5.
        gx = np.clip((points[:, 0] - 0.5) / self.step, 0, cols - 1)
        gy = np.clip((points[:, 1] - 0.5) / self.step, 0, rows - 1)
        x0, y0 = np.floor(gx).astype(int), np.floor(gy).astype(int)
        x1, y1 = np.minimum(x0 + 1, cols - 1), np.minimum(y0 + 1, rows - 1)
        fx, fy = gx - x0, gy - y0

        def sample(grid: np.ndarray) -> np.ndarray:
            top = grid[y0, x0] * (1 - fx) + grid[y0, x1] * fx
            bottom = grid[y1, x0] * (1 - fx) + grid[y1, x1] * fx
            return np.asarray(top * (1 - fy) + bottom * fy)

        return np.stack([sample(self.map_x) + 0.5, sample(self.map_y) + 0.5], axis=1)


@dataclass(frozen=True)
class Chain:
    """The transforms from the page as loaded to a prepared image, in the order they were made."""

    steps: tuple[Projective | Remap, ...] = ()

    def then(self, step: Projective | Remap) -> Chain:
        """This chain followed by one more step (the steps' own order: page first)."""
        if self.steps and isinstance(step, Projective) and isinstance(self.steps[-1], Projective):
            return Chain((*self.steps[:-1], self.steps[-1].then(step)))
        return Chain((*self.steps, step))

    @property
    def is_identity(self) -> bool:
        return all(isinstance(s, Projective) and np.allclose(s.array, np.eye(3)) for s in self.steps)

    def to_page(self, points: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
        """Points of the prepared image, in the page's pixel grid."""
        mapped = _as_points(points)
        for step in reversed(self.steps):
            mapped = step.to_source(mapped)
        return mapped

    def quad(self, box: Box) -> Quad:
        """A prepared image's box as the four corners it covers on the page: top-left, top-right,
        bottom-right, bottom-left of the box (clockwise as it reads), each mapped."""
        x0, y0, x1, y1 = box
        corners = self.to_page([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
        return tuple((float(x), float(y)) for x, y in corners)  # type: ignore[return-value]

    def box(self, box: Box) -> Box:
        """The smallest page box around where a prepared image's box lands."""
        return quad_bbox(self.quad(box))


def quad_bbox(quad: Quad) -> Box:
    xs = [p[0] for p in quad]
    ys = [p[1] for p in quad]
    return min(xs), min(ys), max(xs), max(ys)

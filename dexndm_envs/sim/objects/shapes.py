"""The building blocks of the rotation objects: MuJoCo primitives (GeomSpec) and objects made
of them (ObjectSpec), with the constructors the object library and the composite designs use.

Usage:
    from dexndm_envs.sim.objects.shapes import ObjectSpec, box_geom
    spec = ObjectSpec("bar", "cuboid", (box_geom(0.03, 0.01, 0.01),))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

CATEGORIES: tuple[str, ...] = ("cylinder", "cuboid", "long_cuboid", "small_cylinder", "complex")

BASE_SIZE_M: float = 0.08
"""Size that a category's scale multiplies (m): a scale-0.8 cylinder is 6.4 cm across."""

SCALE_RANGES: dict[str, tuple[float, float]] = {
    "cylinder": (0.70, 0.86),
    "cuboid": (0.70, 0.86),
    "long_cuboid": (0.5, 0.5),
    "small_cylinder": (0.5, 0.6),
    "complex": (0.6, 0.7),
}
"""Paper's scale range per category; randomise with ``spec.scaled(s / NOMINAL_SCALES[cat])``."""

NOMINAL_SCALES: dict[str, float] = {c: 0.5 * (lo + hi) for c, (lo, hi) in SCALE_RANGES.items()}
"""Scale the library objects are built at: the middle of each category's range."""

ASPECT_RANGES: dict[str, tuple[float, float]] = {
    "cylinder": (1.6, 2.4),
    "cuboid": (1.25, 1.5),  # plus the cube (1.0), which the paper's cuboid set includes
    "long_cuboid": (2.5, 6.67),
    "small_cylinder": (1.92, 2.56),
    "complex": (1.05, 2.0),
}
"""Paper's aspect-ratio range (largest / smallest bounding-box extent) per category."""

_SIZE_LEN = {"box": 3, "cylinder": 2, "capsule": 2, "sphere": 1, "ellipsoid": 3}
_SQRT_HALF = float(np.sqrt(0.5))
_AXIS_QUAT = {"x": (_SQRT_HALF, 0.0, _SQRT_HALF, 0.0), "y": (_SQRT_HALF, -_SQRT_HALF, 0.0, 0.0)}


@dataclass(frozen=True)
class GeomSpec:
    """One MuJoCo primitive of an object, in the object frame.

    Attributes:
        type: MuJoCo geom type name: box, cylinder, capsule, sphere or ellipsoid.
        size: MuJoCo size, in metres: half-sizes for box/ellipsoid, (radius, half-length) for
            cylinder/capsule, (radius,) for sphere.
        pos: geom centre in the object frame (m).
        quat: geom orientation in the object frame, (w, x, y, z).
    """

    type: str
    size: tuple[float, ...]
    pos: tuple[float, float, float] = (0.0, 0.0, 0.0)
    quat: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        # Plain floats keep specs hashable, comparable and readable whatever built them.
        object.__setattr__(self, "size", tuple(float(v) for v in self.size))
        object.__setattr__(self, "pos", tuple(float(v) for v in self.pos))
        object.__setattr__(self, "quat", tuple(float(v) for v in self.quat))
        if self.type not in _SIZE_LEN:
            raise ValueError(f"geom type {self.type!r} is not one of {sorted(_SIZE_LEN)}")
        if len(self.size) != _SIZE_LEN[self.type] or min(self.size) <= 0:
            raise ValueError(
                f"{self.type} needs {_SIZE_LEN[self.type]} positive sizes, got {self.size}"
            )

    def rotation(self) -> np.ndarray:
        """Rotation matrix (3, 3) from the geom frame to the object frame."""
        w, x, y, z = np.asarray(self.quat, dtype=np.float64) / np.linalg.norm(self.quat)
        return np.array([
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ])  # fmt: skip

    def half_extents(self) -> np.ndarray:
        """Exact half extents (3,) of the geom's axis-aligned box in the object frame."""
        rot = self.rotation()
        if self.type == "box":
            return np.abs(rot) @ np.asarray(self.size)
        if self.type == "ellipsoid":  # support of R diag(s) (unit ball) along each object axis
            return np.linalg.norm(rot * np.asarray(self.size), axis=1)
        if self.type == "sphere":
            return np.full(3, self.size[0])
        radius, half_len = self.size
        axis_comp = np.abs(rot[:, 2])
        if self.type == "capsule":
            return radius + half_len * axis_comp
        return radius * np.sqrt(np.clip(1.0 - axis_comp**2, 0.0, None)) + half_len * axis_comp

    def max_distance(self) -> float:
        """Farthest distance (m) of any point of the geom from the object origin."""
        pos = np.asarray(self.pos, dtype=np.float64)
        rot = self.rotation()
        if self.type == "box":
            corners = np.array(np.meshgrid(*[(-h, h) for h in self.size])).reshape(3, -1)
            return float(np.max(np.linalg.norm(pos[:, None] + rot @ corners, axis=0)))
        if self.type == "sphere":
            return float(np.linalg.norm(pos) + self.size[0])
        if self.type == "ellipsoid":
            return _farthest_on_ellipsoid(-rot.T @ pos, np.asarray(self.size))
        radius, half_len = self.size
        axis = rot[:, 2]
        ends = (pos + half_len * axis, pos - half_len * axis)
        if self.type == "capsule":
            return float(max(np.linalg.norm(e) for e in ends) + radius)
        # Farthest rim point of a disc: |c|^2 + r^2 + 2 r |c_perp|, c_perp = pos off the axis.
        perp = float(np.linalg.norm(pos - np.dot(pos, axis) * axis))
        return float(np.sqrt(max(e @ e for e in ends) + radius**2 + 2 * radius * perp))

    def scaled(self, factor: float) -> GeomSpec:
        """This geom with size and position multiplied by ``factor``."""
        return replace(
            self, size=tuple(s * factor for s in self.size), pos=tuple(p * factor for p in self.pos)
        )

    def shifted(self, offset: np.ndarray) -> GeomSpec:
        """This geom translated by ``offset`` (m)."""
        return replace(self, pos=tuple(p + o for p, o in zip(self.pos, offset, strict=True)))


def _farthest_on_ellipsoid(point: np.ndarray, semi: np.ndarray) -> float:
    """Largest distance from ``point`` to an ellipsoid with semi-axes ``semi``, in its frame.

    The farthest surface point is x_i = c_i s_i^2 / (s_i^2 - mu) with mu > max s_i^2 chosen so
    that x lies on the surface (a monotone equation, solved by bisection).
    """
    sq = semi**2
    top = float(sq.max())
    weights = point**2 * sq

    def excess(mu: float) -> float:  # > 0 while x(mu) lies outside the ellipsoid
        return float(np.sum(weights / (mu - sq) ** 2)) - 1.0

    low, high = top * (1 + 1e-12), top + float(np.sqrt(weights.sum())) * (1 + 1e-9)
    if excess(low) <= 0:
        # Hard case (point on the longest axes' orthogonal plane): mu = max s^2 and the longest
        # axes take up whatever the other coordinates leave of the surface.
        minor = sq < top * (1 - 1e-9)
        x_minor = point[minor] * sq[minor] / (sq[minor] - top)
        rest = top * max(0.0, 1.0 - float(np.sum(x_minor**2 / sq[minor])))
        return float(np.sqrt(np.sum((x_minor - point[minor]) ** 2) + rest))
    for _ in range(200):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if excess(mid) > 0 else (low, mid)
    return float(np.linalg.norm(point * sq / (sq - high) - point))


@dataclass(frozen=True)
class ObjectSpec:
    """A rigid object made of primitives, centred on its bounding-box centre.

    Attributes:
        name: unique name, e.g. ``"cylinder_0"``, ``"cube"``, ``"complex_07_dog"``.
        category: one of ``CATEGORIES``.
        geoms: the primitives, in the object frame.
    """

    name: str
    category: str
    geoms: tuple[GeomSpec, ...]

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"category {self.category!r} is not one of {CATEGORIES}")
        if not self.geoms:
            raise ValueError(f"object {self.name!r} has no geoms")

    def _bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lows = [np.asarray(g.pos) - g.half_extents() for g in self.geoms]
        highs = [np.asarray(g.pos) + g.half_extents() for g in self.geoms]
        return np.min(lows, axis=0), np.max(highs, axis=0)

    def bounding_half_extents(self) -> np.ndarray:
        """Half extents (3,) of the axis-aligned bounding box in the object frame (m)."""
        low, high = self._bounds()
        return np.maximum(np.abs(low), np.abs(high))

    def bounding_radius(self) -> float:
        """Radius (m) of the smallest origin-centred sphere enclosing every geom."""
        return max(g.max_distance() for g in self.geoms)

    def aspect_ratio(self) -> float:
        """Largest over smallest bounding-box extent."""
        extents = self.bounding_half_extents()
        return float(extents.max() / extents.min())

    def scaled(self, factor: float) -> ObjectSpec:
        """This object with every size and position multiplied by ``factor``.

        Raises:
            ValueError: if ``factor`` is not a positive finite number.
        """
        if not np.isfinite(factor) or factor <= 0:
            raise ValueError(f"scale factor must be positive and finite, got {factor}")
        return replace(self, geoms=tuple(g.scaled(factor) for g in self.geoms))

    def to_mjcf(
        self, body_name: str = "object", rgba: str = "0.85 0.55 0.25 1", body_attrs: str = ""
    ) -> str:
        """MJCF ``<body>`` with a free joint and one geom per primitive.

        ``body_attrs`` is added to the body element as written (e.g. ``simple="false"``).

        Geoms use ``class="object"``, which the scene must define (contact, friction, density);
        no mass, density or friction is set here so that the scene and its randomisation own them.
        Names: ``{body_name}_joint`` and ``{body_name}_geom0``, ``{body_name}_geom1``, ...
        """

        def fmt(values: Sequence[float]) -> str:
            return " ".join(format(float(v), ".9g") for v in values)

        body = (
            f'<body name="{body_name}" {body_attrs}>'
            if body_attrs
            else f'<body name="{body_name}">'
        )
        lines = [body, f'  <freejoint name="{body_name}_joint"/>']
        for i, geom in enumerate(self.geoms):
            lines.append(
                f'  <geom name="{body_name}_geom{i}" class="object" type="{geom.type}" '
                f'size="{fmt(geom.size)}" pos="{fmt(geom.pos)}" quat="{fmt(geom.quat)}" '
                f'rgba="{rgba}"/>'
            )
        lines.append("</body>")
        return "\n".join(lines)


def box_geom(hx: float, hy: float, hz: float, pos: Sequence[float] = (0, 0, 0)) -> GeomSpec:
    return GeomSpec("box", (hx, hy, hz), tuple(pos))


def _round(kind: str, r: float, half_len: float, pos: Sequence[float], axis: str) -> GeomSpec:
    """Cylinder or capsule whose axis lies along the object frame's ``axis``."""
    return GeomSpec(kind, (r, half_len), tuple(pos), _AXIS_QUAT.get(axis, (1.0, 0.0, 0.0, 0.0)))


def cylinder_geom(
    r: float, half_len: float, pos: Sequence[float] = (0, 0, 0), axis: str = "z"
) -> GeomSpec:
    return _round("cylinder", r, half_len, pos, axis)


def capsule_geom(
    r: float, half_len: float, pos: Sequence[float] = (0, 0, 0), axis: str = "z"
) -> GeomSpec:
    return _round("capsule", r, half_len, pos, axis)


def sphere_geom(r: float, pos: Sequence[float] = (0, 0, 0)) -> GeomSpec:
    return GeomSpec("sphere", (r,), tuple(pos))


def ellipsoid_geom(a: float, b: float, c: float, pos: Sequence[float] = (0, 0, 0)) -> GeomSpec:
    return GeomSpec("ellipsoid", (a, b, c), tuple(pos))

"""Assemble, in memory, generated non-brain images for the out-of-distribution guard's head to learn from.

Everything comes from sources available offline: the sample images bundled with scikit-image (only those that ship
inside the package; the ones it would download are skipped), scikit-learn and matplotlib (not its MRI sample), and
generated images (noise, gradients, patterns, shapes, rendered text pages, charts). Natural images also appear as
grayscale versions, random crops and rotations, as a clinician's wrong upload might be a screenshot or a crop.
Real non-brain medical images come from ``shared/data/non-brain-dev`` (:mod:`training.guard_sources`). Images are
encoded as the PNG or JPEG bytes a user would upload and are never written to disk.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import matplotlib.cbook as cbook
import numpy as np
import skimage.data
from matplotlib.figure import Figure
from PIL import Image, ImageDraw, ImageFont
from sklearn.datasets import load_sample_images

FONT = Path(__file__).resolve().parents[1] / "core" / "fonts" / "DejaVuSans.ttf"
SKIMAGE_IMAGES = {
    "photo": ("astronaut", "camera", "cat", "chelsea", "coffee", "rocket", "clock", "coins", "moon",
              "hubble_deep_field"),
    "texture": ("brick", "grass", "gravel"),
    "microscopy_or_retina": ("retina", "microaneurysms", "cell", "immunohistochemistry"),
    "graphic": ("logo", "colorwheel", "horse", "checkerboard"),
    "document": ("page", "text"),
    "ct_phantom": ("shepp_logan_phantom",),
}
"""scikit-image samples shipped inside the package (no download), by category."""
MATPLOTLIB_IMAGES = {"photo": ("grace_hopper.jpg",), "graphic": ("logo2.png", "Minduka_Present_Blue_Pack.png")}
MATPLOTLIB_MAPS = {"topobathy.npz": "topo", "jacksboro_fault_dem.npz": "elevation"}
"""matplotlib's elevation maps (arrays, shown as grayscale images); its MRI sample ``s1045.ima.gz`` is left out."""
VARIED = ("photo", "texture", "microscopy_or_retina", "ct_phantom")
"""Categories whose images also appear grayscale, cropped twice and rotated."""
FACES = 20
TEXT_PAGES = 20
WORDS = ("patient", "report", "findings", "the", "of", "and", "normal", "study", "image", "contrast", "left", "right",
         "impression", "history", "comparison", "technique", "no", "acute", "with", "series", "dose", "chest")


@dataclass(frozen=True)
class OodImage:
    """One non-brain test image: ``data`` holds encoded PNG or JPEG bytes, read like any upload."""

    category: str
    name: str
    data: bytes


def encode(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **({"quality": 90} if fmt == "JPEG" else {"compress_level": 1}))
    return buffer.getvalue()


def to_image(array: np.ndarray) -> Image.Image:
    """A uint8, bool or float array (H x W, H x W x 3 or H x W x 4) as an 8-bit RGB or grayscale PIL image."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        low, high = float(array.min()), float(array.max())
        array = ((array - low) / (high - low or 1.0) * 255).round().astype(np.uint8)
    image = Image.fromarray(array)
    return image.convert("RGB") if image.mode in ("RGBA", "P", "1") else image


def make_variants(image: Image.Image, rng: np.random.Generator) -> Iterator[tuple[str, Image.Image]]:
    """The image as it is, in grayscale, two random crops (40-80 % of each side) and a random rotation."""
    yield "original", image
    yield "gray", image.convert("L")
    width, height = image.size
    for number in range(2):
        w, h = (int(rng.uniform(0.4, 0.8) * side) for side in (width, height))
        left, top = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
        yield f"crop{number}", image.crop((left, top, left + w, top + h))
    yield "rotated", image.rotate(float(rng.uniform(20, 340)), expand=True)


def library_images() -> Iterator[tuple[str, str, Image.Image]]:
    """(category, name, image) of every bundled sample image."""
    for category, names in SKIMAGE_IMAGES.items():
        for name in names:
            yield category, f"skimage_{name}", to_image(getattr(skimage.data, name)())
    for name, array in zip(("china", "flower"), load_sample_images().images, strict=True):
        yield "photo", f"sklearn_{name}", to_image(array)
    for category, names in MATPLOTLIB_IMAGES.items():
        for name in names:
            with Image.open(cbook.get_sample_data(name)) as image:
                yield category, f"matplotlib_{Path(name).stem}", to_image(np.asarray(image))
    for name, key in MATPLOTLIB_MAPS.items():
        with cbook.get_sample_data(name) as arrays:
            yield "map", f"matplotlib_{Path(name).stem}", to_image(arrays[key])


def make_faces() -> Iterator[tuple[str, str, Image.Image]]:
    """The first :data:`FACES` Labeled Faces in the Wild crops shipped with scikit-image, enlarged to 100 px."""
    for number, face in enumerate(skimage.data.lfw_subset()[:FACES]):
        yield "face", f"lfw_{number:02d}", to_image(face).resize((100, 100), Image.Resampling.BICUBIC)


def make_noise(rng: np.random.Generator) -> Iterator[tuple[str, str, Image.Image]]:
    for number in range(4):
        size = (int(rng.integers(96, 400)), int(rng.integers(96, 400)))
        yield "noise", f"uniform_{number}", to_image(rng.uniform(size=size))
        yield "noise", f"gaussian_{number}", to_image(rng.normal(0.5, 0.2, size=size).clip(0, 1))
        yield "noise", f"salt_pepper_{number}", to_image((rng.uniform(size=size) < 0.1).astype(np.uint8) * 255)


def make_gradients(rng: np.random.Generator, size: int = 256) -> Iterator[tuple[str, str, Image.Image]]:
    rows, cols = np.mgrid[0:size, 0:size] / size
    for number, angle in enumerate(rng.uniform(0, np.pi, 6)):
        yield "gradient", f"linear_{number}", to_image(np.cos(angle) * cols + np.sin(angle) * rows)
    for number, (row, col) in enumerate(rng.uniform(0.2, 0.8, (4, 2))):
        yield "gradient", f"radial_{number}", to_image(-np.hypot(rows - row, cols - col))


def make_patterns(rng: np.random.Generator, size: int = 256) -> Iterator[tuple[str, str, Image.Image]]:
    rows, cols = np.mgrid[0:size, 0:size]
    for cell in (8, 16, 32, 64):
        yield "pattern", f"checkerboard_{cell}", to_image(((rows // cell + cols // cell) % 2).astype(float))
    for number, period in enumerate(rng.integers(6, 40, 4)):
        angle = rng.uniform(0, np.pi)
        yield "pattern", f"stripes_{number}", to_image(np.sin(2 * np.pi * (np.cos(angle) * cols
                                                                              + np.sin(angle) * rows) / period))
    for number in range(2):
        yield "pattern", f"rings_{number}", to_image(np.sin(np.hypot(rows - size / 2, cols - size / 2)
                                                            / rng.uniform(2, 8)))


def make_shapes(rng: np.random.Generator, count: int = 15, size: int = 256) -> Iterator[tuple[str, str, Image.Image]]:
    """Random filled circles, rectangles and polygons in random greys, on a black or white background."""
    for number in range(count):
        image = Image.new("L", (size, size), 0 if number % 2 else 255)
        draw = ImageDraw.Draw(image)
        for _ in range(int(rng.integers(1, 8))):
            box = np.sort(rng.integers(0, size, (2, 2)), axis=0).T.ravel()[[0, 2, 1, 3]].tolist()
            fill = int(rng.integers(30, 226))
            kind = rng.integers(3)
            if kind == 0:
                draw.ellipse(box, fill=fill)
            elif kind == 1:
                draw.rectangle(box, fill=fill)
            else:
                draw.polygon([tuple(point) for point in rng.integers(0, size, (5, 2)).tolist()], fill=fill)
        yield "shapes", f"shapes_{number:02d}", image


def make_text_pages(rng: np.random.Generator, count: int = TEXT_PAGES) -> Iterator[tuple[str, str, Image.Image]]:
    """Pages of random words set in DejaVu Sans: black on white or, every third page, white on black."""
    for number in range(count):
        width, height = int(rng.integers(300, 700)), int(rng.integers(300, 900))
        dark = number % 3 == 2
        image = Image.new("L", (width, height), 0 if dark else 255)
        draw = ImageDraw.Draw(image)
        font_size = int(rng.integers(10, 28))
        font = ImageFont.truetype(str(FONT), font_size)
        for line in range(height // (font_size + 6) - 1):
            words = " ".join(rng.choice(WORDS, int(rng.integers(3, 12))))
            draw.text((10, 10 + line * (font_size + 6)), words, fill=255 if dark else 0, font=font)
        yield "document", f"text_page_{number:02d}", image


def make_charts(rng: np.random.Generator, count: int = 9) -> Iterator[tuple[str, str, Image.Image]]:
    """Line, bar and scatter charts drawn by matplotlib into memory, as a screenshot of a report would be."""
    for number in range(count):
        figure = Figure(figsize=(4, 3), dpi=80)
        axes = figure.subplots()
        x = np.arange(20)
        kind = ("line", "bar", "scatter")[number % 3]
        if kind == "line":
            axes.plot(x, rng.normal(size=(20, 3)).cumsum(axis=0))
        elif kind == "bar":
            axes.bar(x[:8], rng.uniform(1, 10, 8))
        else:
            axes.scatter(*rng.normal(size=(2, 60)))
        axes.set_title(f"Series {number}")
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        yield "chart", f"{kind}_{number}", Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def make_ood_images(seed: int = 0) -> list[OodImage]:
    """The whole non-brain set (about 250 images), the same for a given ``seed``."""
    rng = np.random.default_rng(seed)
    images = []
    for category, name, image in library_images():
        variants = make_variants(image, rng) if category in VARIED else [("original", image)]
        for variant, picture in variants:
            fmt = "JPEG" if category == "photo" else "PNG"
            images.append(OodImage(category, f"{name}_{variant}", encode(picture, fmt)))
    generators = (make_faces(), make_noise(rng), make_gradients(rng), make_patterns(rng), make_shapes(rng),
                  make_text_pages(rng), make_charts(rng))
    for generator in generators:
        images.extend(OodImage(category, name, encode(image)) for category, name, image in generator)
    return images

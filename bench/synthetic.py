"""Synthetic pages with exactly known ground truth, made by code: text rendered with several fonts, then
shrunk, turned, skewed, compressed, noised or framed with dark borders; and phone photos of pages
(bench/synthetic_photos.py: perspective, curvature, textured and unevenly lit tables).

Nothing here was chosen by looking at the corpus: the texts are generic prose, numbers and form values,
the fonts are the free ones Debian ships (DejaVu, Liberation), and the distortions cover the ranges the
accuracy issue names (quarter turns, 1-8 degrees of skew, 15-40 px text, JPEG, noise, dark borders). Each
sample carries a `family` (what was done to it), used like a corpus source for leave-one-out scoring.

    .venv/bin/python -m bench.synthetic --out .bench/synthetic      # write the set as files + .gt.txt
"""

from __future__ import annotations

import argparse
import io
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from bench import synthetic_photos

FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/truetype/liberation"),
    Path("/usr/share/fonts/truetype/liberation2"),  # Debian 12 and later
)
FONT_FILES = (
    "DejaVuSans.ttf",
    "DejaVuSerif.ttf",
    "LiberationSerif-Regular.ttf",
    "LiberationSans-Regular.ttf",
    "LiberationMono-Regular.ttf",
)
RENDER_SIZE = 48  # font size (px) text is drawn at before it is shrunk to the sample's text height

PROSE = [
    "The committee met on Tuesday to review the annual budget and the plans for the new library.",
    "Members agreed that the reading room should stay open in the evening during the winter months.",
    "A short report on the condition of the roof was presented by the buildings manager.",
    "Repairs to the heating system will be scheduled for the spring, when demand is lowest.",
    "The treasurer noted that donations had increased by twelve percent compared with last year.",
    "Several residents asked whether the archive could be made available to schools in the region.",
    "It was decided to publish the minutes of every meeting on the notice board at the entrance.",
    "The next meeting will take place on the first Monday of March at seven in the evening.",
    "Please return borrowed books before the end of the month so that the stock can be counted.",
    "Visitors are reminded that food and drink are not permitted in the reading room.",
    "The museum will lend three paintings to an exhibition in the capital next autumn.",
    "Volunteers are needed to help sort the letters and photographs donated by local families.",
    "Opening hours: Monday to Friday from nine to five, Saturday from ten to one.",
    "Invoice number 48213 was paid on 14 June; the balance of 1,250.00 is now closed.",
    "Delivery of the new shelves is expected within four weeks of the order being placed.",
    "All questions about membership should be sent to the secretary by letter or telephone.",
]
GERMAN = [
    "Die Versammlung beschloss, die Bibliothek im Winter auch am Abend zu öffnen.",
    "Für die Reparatur des Daches wurden drei Angebote von örtlichen Betrieben eingeholt.",
    "Der Bericht über das vergangene Jahr wird allen Mitgliedern zugeschickt.",
    "Größere Spenden sollen künftig in der Zeitung veröffentlicht werden.",
]
WORDS = ["Total", "Invoice", "Amount", "Signature", "Reference", "Approved", "Received", "Balance", "Station"]
NUMBERS = ["136", "2048", "57", "903", "4411", "12.50", "2026", "71", "368"]


@dataclass
class SyntheticSample:
    name: str
    kind: str  # page, line, word: as the corpus manifest names them
    family: str  # what was done to it: clean, small, rotated, skewed, jpeg, noise, borders
    lang: str
    image: Image.Image
    ground_truth: str
    tags: list[str] = field(default_factory=list)
    data: bytes | None = None  # the file as made, where it is more than the image (a photo's JPEG and EXIF)

    def encode(self) -> tuple[bytes, str]:
        """The file bytes a user would upload, and its suffix (JPEG for the compressed family and photos)."""
        if self.data is not None:
            return self.data, ".jpg"
        buf = io.BytesIO()
        if "jpeg" in self.tags:
            quality = int(next(t for t in self.tags if t.startswith("q")).lstrip("q"))
            self.image.convert("L").save(buf, format="JPEG", quality=quality)
            return buf.getvalue(), ".jpg"
        self.image.save(buf, format="PNG")
        return buf.getvalue(), ".png"


def font_paths() -> list[Path]:
    found = []
    for name in FONT_FILES:
        for directory in FONT_DIRS:
            if (directory / name).exists():
                found.append(directory / name)
                break
    if not found:
        raise SystemExit("no DejaVu or Liberation fonts: apt-get install fonts-dejavu-core fonts-liberation2")
    return found


def render_lines(lines: list[str], font_path: Path, text_height: int, margin: float = 1.0) -> Image.Image:
    """Draw the lines at RENDER_SIZE, then shrink so a line of text is `text_height` px high (font size)."""
    font = ImageFont.truetype(str(font_path), RENDER_SIZE)
    line_gap = int(RENDER_SIZE * 1.5)
    widths = [font.getbbox(line)[2] for line in lines]
    pad = int(RENDER_SIZE * margin)
    image = Image.new("L", (max(widths) + 2 * pad, line_gap * len(lines) + 2 * pad), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((pad, pad + i * line_gap), line, font=font, fill=0)
    factor = text_height / RENDER_SIZE
    if factor != 1:
        size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    return image


def add_noise(image: Image.Image, rng: random.Random, sigma: float) -> Image.Image:
    pixels = np.asarray(image, dtype=np.float32)
    noise = np.random.default_rng(rng.randrange(1 << 30)).normal(0, sigma, pixels.shape)
    return Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))


def add_dark_borders(image: Image.Image, rng: random.Random) -> Image.Image:
    """A scanner's dark background along two or three edges, as when a sheet lies off-centre."""
    border = max(8, image.width // 25)
    out = Image.new("L", (image.width + 2 * border, image.height + 2 * border), rng.randrange(10, 60))
    out.paste(image, (border + rng.randrange(-border // 2, border // 2 + 1), border))
    return out


def make_set(seed: int = 7) -> list[SyntheticSample]:
    """The whole synthetic set: every family over several fonts, text sizes and texts; deterministic."""
    rng = random.Random(seed)
    fonts = font_paths()
    samples: list[SyntheticSample] = []

    def page_text(n: int) -> list[str]:
        start = rng.randrange(len(PROSE))
        return [PROSE[(start + i) % len(PROSE)] for i in range(n)]

    def add(kind: str, family: str, image: Image.Image, lines: list[str], tags: list[str], lang: str = "eng") -> None:
        name = f"syn_{len(samples):03d}_{family}_{kind}"
        samples.append(SyntheticSample(name, kind, family, lang, image, "\n".join(lines), tags))

    for i, font in enumerate(fonts):
        short = font.stem
        # clean: a block of text at an ordinary size, a single line, a German paragraph
        lines = page_text(6)
        add("page", "clean", render_lines(lines, font, rng.choice([28, 34, 40])), lines, [short])
        line = [rng.choice(PROSE)]
        add("line", "clean", render_lines(line, font, rng.choice([26, 32]), margin=0.5), line, [short])
        german = [GERMAN[i % len(GERMAN)], GERMAN[(i + 1) % len(GERMAN)]]
        add("page", "clean", render_lines(german, font, 32), german, [short, "german"], lang="deu")
        # small: text shrunk to 15-20 px, and word or number crops a few dozen px high with tight margins
        lines = page_text(4)
        height = rng.choice([15, 17, 20])
        add("page", "small", render_lines(lines, font, height), lines, [short, f"{height}px"])
        for text in (rng.choice(WORDS), rng.choice(NUMBERS)):
            height = rng.choice([14, 18, 22, 26])
            crop = render_lines([text], font, height, margin=rng.choice([0.1, 0.25]))
            add("word", "small", crop, [text], [short, f"{height}px", "crop"])
        # rotated: quarter turns of a page and of a line
        lines = page_text(6)
        turn = [90, 180, 270][i % 3]
        add("page", "rotated", render_lines(lines, font, 32).rotate(-turn, expand=True), lines, [short, f"rot{turn}"])
        line = [rng.choice(PROSE)]
        turn = [180, 270, 90][i % 3]
        image = render_lines(line, font, 30, margin=0.5).rotate(-turn, expand=True)
        add("line", "rotated", image, line, [short, f"rot{turn}"])
        # skewed: 1-8 degrees either way
        lines = page_text(6)
        angle = rng.choice([1, 2, 3, 5, 8]) * rng.choice([-1, 1])
        image = render_lines(lines, font, 32).rotate(
            angle, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=255
        )
        add("page", "skewed", image, lines, [short, f"skew{angle}"])
        # jpeg: strong compression of a page at a modest size
        lines = page_text(5)
        quality = rng.choice([20, 35, 50])
        add("page", "jpeg", render_lines(lines, font, rng.choice([22, 28])), lines, [short, "jpeg", f"q{quality}"])
        # noise: gaussian grain on a page and on a line
        lines = page_text(5)
        sigma = rng.choice([25.0, 40.0, 55.0])
        add("page", "noise", add_noise(render_lines(lines, font, 30), rng, sigma), lines, [short, f"sigma{sigma:.0f}"])
        # borders: dark scanner background around a page
        lines = page_text(6)
        add("page", "borders", add_dark_borders(render_lines(lines, font, 30), rng), lines, [short, "dark-border"])
    # photos: pages photographed at an angle on a table (bench/synthetic_photos.py), one family at a time
    for family, photo, lines, quality, camera in synthetic_photos.photo_samples(fonts, PROSE, seed):
        tags = [f"q{quality}", *(["camera"] if camera else [])]
        data = synthetic_photos.jpeg_bytes(photo, quality, camera)
        name = f"syn_{len(samples):03d}_{family}_photo"
        samples.append(SyntheticSample(name, "photo", family, "eng", photo, "\n".join(lines), tags, data))
    return samples


def write_set(out: Path, seed: int = 7) -> list[tuple[SyntheticSample, Path]]:
    """Write each sample as the file a user would upload, with NAME.gt.txt beside it."""
    return write_samples(out, make_set(seed))


def write_samples(out: Path, samples: list[SyntheticSample]) -> list[tuple[SyntheticSample, Path]]:
    """Write these samples (this set's, bench/synthetic_docs.py's) as files, each with NAME.gt.txt beside it."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for sample in samples:
        data, suffix = sample.encode()
        path = out / f"{sample.name}{suffix}"
        path.write_bytes(data)
        path.with_name(path.name + ".gt.txt").write_text(sample.ground_truth + "\n", encoding="utf-8")
        written.append((sample, path))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.synthetic", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(".bench/synthetic"), help="folder to write the set to")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    written = write_set(args.out, args.seed)
    print(f"wrote {len(written)} samples to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

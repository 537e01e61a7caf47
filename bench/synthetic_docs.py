"""Synthetic receipts, ruled tables and forms with exactly known ground truth, made by code.

Nothing here was chosen by looking at the corpus: shop names, items and form fields are generic, the fonts
are the free ones Debian ships (DejaVu, Liberation), and the distortions are those the accuracy issue names
(narrow monospaced or condensed fonts, thermal fading, uneven background, one column of short lines with
prices; grid lines, numbers and short labels in cells, merged cells; boxes, labels, filled values,
checkboxes). Each family is a way of making them, held out as a whole in leave-one-family-out scoring:

- receipts: `receipt-mono` (monospaced, squeezed to 80 %), `receipt-faded` (thermal fading: low contrast,
  a fading band, speckle), `receipt-uneven` (uneven light across the slip, grain, JPEG);
- tables: `table-grid` (full grid, tight cells with numbers next to letters: "13" beside "A"),
  `table-merged` (a header spanning columns, a label spanning rows), `table-light` (a spreadsheet's light
  gray grid);
- forms: `form-boxes` (labelled boxes with filled values), `form-checks` (checkboxes, some crossed, beside
  their labels, and a signature line), `form-ticks` (yes/no questions, the boxes after their labels, larger,
  thin or bold, ticked or filled; made after the checkbox detector was written, to check it on boxes it was
  not made with).

Ground truth is every word of the document, one line per printed line or table row; receipts, tables and
forms are scored with the caseless word-bag error (bench/scoring.py), as the corpus's receipts are.

    .venv/bin/python -m bench.synthetic_docs --out .bench/synthetic-docs
"""

from __future__ import annotations

import argparse
import io
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from bench.synthetic import FONT_DIRS, SyntheticSample, add_noise, write_samples

FONTS = {
    "mono": ("DejaVuSansMono.ttf", "LiberationMono-Regular.ttf"),
    "sans": ("DejaVuSans.ttf", "LiberationSans-Regular.ttf", "DejaVuSansCondensed.ttf"),
    "serif": ("DejaVuSerif.ttf", "LiberationSerif-Regular.ttf"),
}
SHOPS = ["CORNER MARKET", "GREEN LEAF CAFE", "CITY HARDWARE", "SUNRISE BAKERY", "NORTH STAR BOOKS"]
STREETS = ["12 HIGH STREET", "4 STATION ROAD", "88 RIVER LANE", "210 MARKET SQUARE"]
ITEMS = [
    "BREAD", "MILK 1L", "COFFEE", "TEA BOX", "RICE 2KG", "EGGS 10", "APPLES", "SOAP", "PAPER", "NAILS",
    "TAPE", "GLUE", "PENCIL", "ENVELOPE", "CHEESE", "BUTTER", "SUGAR", "JUICE", "WATER", "BATTERY",
]  # fmt: skip
LABELS = ["Alpha", "Beta", "Gamma", "Delta", "North", "South", "East", "West", "Total", "Spare", "Main", "Side"]
FIELDS = [
    ("Name", ["Anna Berg", "John Smith", "Maria Lopez", "Peter Novak"]),
    ("Date", ["12/03/2024", "01/11/2023", "27/06/2025"]),
    ("City", ["Leeds", "Oslo", "Porto", "Graz"]),
    ("Phone", ["0161 496 0000", "020 7946 0018"]),
    ("Account", ["GB29 4471", "DE89 3704", "FR14 2004"]),
    ("Amount", ["125.00", "48.50", "1,200.00"]),
    ("Reference", ["INV-2041", "PO-77318", "REF 5512"]),
    ("Signed by", ["A. Berg", "J. Smith", "M. Lopez"]),
]
OPTIONS = ["Post", "Email", "Phone", "Collect", "Weekly", "Monthly", "Yearly", "Other"]


def _font(group: str, rng: random.Random, size: int) -> ImageFont.FreeTypeFont:
    names = [n for n in FONTS[group] if any((d / n).exists() for d in FONT_DIRS)]
    if not names:
        raise SystemExit("no DejaVu or Liberation fonts: apt-get install fonts-dejavu-core fonts-liberation2")
    name = rng.choice(names)
    path = next(d / name for d in FONT_DIRS if (d / name).exists())
    return ImageFont.truetype(str(path), size)


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    image.convert("L").save(buf, format="JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("L")


# -- receipts ----------------------------------------------------------------------------------------
def receipt_lines(rng: random.Random) -> list[str]:
    lines = [rng.choice(SHOPS), rng.choice(STREETS), f"TEL {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}"]
    lines.append(f"RECEIPT {rng.randrange(10000, 99999)}  {rng.randrange(1, 28):02d}/{rng.randrange(1, 12):02d}/2024")
    total = 0.0
    for item in rng.sample(ITEMS, rng.randrange(5, 10)):
        qty, price = rng.randrange(1, 4), rng.randrange(50, 2500) / 100
        total += qty * price
        lines.append(f"{item:<12} {qty} X {price:.2f} {qty * price:>7.2f}")
    tax = round(total * 0.06, 2)
    lines += [f"SUBTOTAL {total:.2f}", f"TAX 6% {tax:.2f}", f"TOTAL {total + tax:.2f}", "THANK YOU"]
    return lines


def render_receipt(lines: list[str], font: ImageFont.FreeTypeFont, squeeze: float) -> Image.Image:
    """One column of short lines, left-aligned on a narrow slip; `squeeze` narrows the glyphs."""
    size = int(font.size)
    width = max(int(font.getlength(line)) for line in lines) + 2 * size
    image = Image.new("L", (width, int(size * 1.45) * len(lines) + 2 * size), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((size, size + i * int(size * 1.45)), line, font=font, fill=0)
    if squeeze != 1.0:
        image = image.resize((round(image.width * squeeze), image.height), Image.Resampling.LANCZOS)
    return image


def fade(image: Image.Image, rng: random.Random) -> Image.Image:
    """Thermal fading: ink lightened to gray, more so in a band across the slip, and speckle."""
    pixels = np.asarray(image, dtype=np.float32)
    rows = np.arange(image.height, dtype=np.float32)[:, None]
    centre, spread = rng.uniform(0.3, 0.7) * image.height, image.height * 0.25
    strength = rng.uniform(0.45, 0.6) + 0.25 * np.exp(-(((rows - centre) / spread) ** 2))
    faded = 255 - (255 - pixels) * (1 - np.clip(strength, 0, 0.85))
    speckle = np.random.default_rng(rng.randrange(1 << 30)).random(pixels.shape) < 0.002
    faded[speckle] = 120
    return Image.fromarray(np.clip(faded, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.6))


def uneven(image: Image.Image, rng: random.Random) -> Image.Image:
    """Light falling off across the slip (a shadow from one corner), then grain."""
    pixels = np.asarray(image, dtype=np.float32)
    ys, xs = np.mgrid[0 : image.height, 0 : image.width].astype(np.float32)
    cx, cy = rng.choice([0, image.width]), rng.choice([0, image.height])
    distance = np.hypot(xs - cx, ys - cy) / np.hypot(image.width, image.height)
    light = 0.45 + 0.55 * np.clip(distance * 1.4, 0, 1)
    return add_noise(Image.fromarray(np.clip(pixels * light, 0, 255).astype(np.uint8)), rng, 10.0)


# -- tables --------------------------------------------------------------------------------------------
def _cell_text(rng: random.Random, column: int) -> str:
    if column == 0:
        return rng.choice(LABELS)
    return rng.choice(
        [str(rng.randrange(1, 99)), rng.choice("ABCDEFXYZ"), f"{rng.randrange(1, 999)}.{rng.randrange(0, 99):02d}"]
    )


def _rule(draw: ImageDraw.ImageDraw, xs: list[int], ys: list[int], spanning: bool, gray: int, width: int) -> None:
    """The table's lines; with `spanning`, none inside the merged header cell and the merged label cell."""
    columns = len(xs) - 1
    for r, y in enumerate(ys):
        for c in range(columns):
            if spanning and r == 2 and c == 0:
                continue
            draw.line([(xs[c], y), (xs[c + 1], y)], fill=gray, width=width)
    for c, x in enumerate(xs):
        for r in range(len(ys) - 1):
            if spanning and r == 0 and c == columns - 1:
                continue
            draw.line([(x, ys[r]), (x, ys[r + 1])], fill=gray, width=width)


def render_table(
    rng: random.Random, font: ImageFont.FreeTypeFont, *, merged: bool, line_gray: int, line_width: int
) -> tuple[Image.Image, list[str]]:
    """A ruled table: a header row, 5-8 body rows, 3-5 columns, tight cells. With `merged`, the header's
    last two columns are one cell and the first column's label of the first two body rows is one cell."""
    size = int(font.size)
    columns, body = rng.randrange(3, 6), rng.randrange(5, 9)
    header = [
        "Item",
        *(rng.choice(["Qty", "Code", "Size", "Unit", "Price", "Cost", "Note"]) for _ in range(columns - 1)),
    ]
    rows = [header] + [[_cell_text(rng, c) for c in range(columns)] for _ in range(body)]
    pad = max(3, size // 5)
    widths = [max(int(font.getlength(r[c])) for r in rows) + 2 * pad for c in range(columns)]
    row_h = int(size * 1.5)
    left, top = 2 * size, 3 * size
    image = Image.new("L", (left * 2 + sum(widths), top + row_h * len(rows) + 2 * size), 255)
    draw = ImageDraw.Draw(image)
    title = f"Table {rng.randrange(1, 20)}: {rng.choice(['stock', 'orders', 'results', 'readings'])}"
    draw.text((left, size), title, font=font, fill=0)
    xs = [left + sum(widths[:c]) for c in range(columns + 1)]
    ys = [top + row_h * r for r in range(len(rows) + 1)]
    truth = [title]
    spanning = merged and columns >= 3
    if spanning:  # header: the last two columns one cell; body rows 1-2: one label cell
        rows[0][-2] = rows[0][-2] + " " + rows[0][-1]
        rows[0][-1] = ""
        rows[2][0] = ""
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            if not text:
                continue
            y = ys[r] + (row_h - size) // 2
            if spanning and r == 1 and c == 0:
                y = ys[1] + row_h - size // 2  # centred on the line the merged cell does not have
            draw.text((xs[c] + pad, y), text, font=font, fill=0)
        truth.append(" ".join(t for t in row if t))
    _rule(draw, xs, ys, spanning, line_gray, line_width)
    return image, truth


# -- forms ---------------------------------------------------------------------------------------------
def render_form(rng: random.Random, font: ImageFont.FreeTypeFont, *, checks: bool) -> tuple[Image.Image, list[str]]:
    """A title, then rows of two labelled boxes with values (form-boxes), or options with checkboxes and a
    signature line (form-checks)."""
    size = int(font.size)
    small = font.font_variant(size=max(10, int(size * 0.75)))
    width = size * 32
    image = Image.new("L", (width, size * 30), 255)
    draw = ImageDraw.Draw(image)
    title = rng.choice(["APPLICATION FORM", "ORDER FORM", "CHANGE OF ADDRESS", "MEMBERSHIP FORM"])
    draw.text((size * 2, size), title, font=font, fill=0)
    truth, y = [title], size * 3
    fields = rng.sample(FIELDS, 6)
    box_w, box_h = (width - size * 5) // 2, int(size * 2.6)
    for i in range(0, 6 if not checks else 2, 2):
        line = []
        for j, (label, values) in enumerate(fields[i : i + 2]):
            x = size * 2 + j * (box_w + size)
            value = rng.choice(values)
            draw.rectangle((x, y, x + box_w, y + box_h), outline=0, width=2)
            draw.text((x + 6, y + 4), label, font=small, fill=0)
            draw.text((x + 6 + size, y + int(size * 1.2)), value, font=font, fill=0)
            line += [label, value]
        truth.append(" ".join(line))
        y += box_h + size
    if checks:
        truth.append("Contact by:")
        draw.text((size * 2, y), "Contact by:", font=font, fill=0)
        y += int(size * 1.8)
        options = rng.sample(OPTIONS, 4)
        for k, option in enumerate(options):
            x = size * 2 + k * size * 7
            side = int(size * 0.9)
            draw.rectangle((x, y, x + side, y + side), outline=0, width=2)
            if rng.random() < 0.5:
                draw.line([(x + 3, y + 3), (x + side - 3, y + side - 3)], fill=0, width=2)
                draw.line([(x + side - 3, y + 3), (x + 3, y + side - 3)], fill=0, width=2)
            draw.text((x + side + size // 2, y - 2), option, font=font, fill=0)
        truth += [" ".join(options), "Signature"]
        y += size * 3
        draw.text((size * 2, y), "Signature", font=font, fill=0)
        draw.line([(size * 9, y + size), (size * 22, y + size)], fill=0, width=2)
    image = image.crop((0, 0, width, y + size * 3))
    return image, truth


QUESTIONS = ["Paid in full", "Delivered", "Signed", "Approved", "Insured", "Returned", "Urgent", "Repeat order"]


def _tick(draw: ImageDraw.ImageDraw, x: int, y: int, side: int, rng: random.Random) -> None:
    """A mark in a box at (x, y): a tick, or the inside filled."""
    if rng.random() < 0.5:
        points = [
            (x + side * 0.2, y + side * 0.55),
            (x + side * 0.42, y + side * 0.8),
            (x + side * 0.85, y + side * 0.2),
        ]
        draw.line(points, fill=0, width=max(2, side // 8))
    else:
        inset = max(3, side // 5)
        draw.rectangle((x + inset, y + inset, x + side - inset, y + side - inset), fill=0)


def render_ticks(rng: random.Random, font: ImageFont.FreeTypeFont) -> tuple[Image.Image, list[str]]:
    """Yes/no questions, each answer's box after its word, a box or none marked (form-ticks)."""
    size = int(font.size)
    width = size * 30
    questions = rng.sample(QUESTIONS, rng.randrange(3, 6))
    image = Image.new("L", (width, size * (5 + 2 * len(questions))), 255)
    draw = ImageDraw.Draw(image)
    title = rng.choice(["DELIVERY NOTE", "INSPECTION CHECKLIST", "SITE REPORT"])
    draw.text((size * 2, size), title, font=font, fill=0)
    truth, y = [title], size * 3
    side, outline = round(size * rng.uniform(1.0, 1.25)), rng.choice([1, 3])
    for question in questions:
        draw.text((size * 2, y), question, font=font, fill=0)
        x = size * 15
        marked = rng.choice([None, "Yes", "No"])
        for answer in ("Yes", "No"):
            draw.text((x, y), answer, font=font, fill=0)
            bx = x + int(font.getlength(answer)) + size // 2
            draw.rectangle((bx, y, bx + side, y + side), outline=0, width=outline)
            if answer == marked:
                _tick(draw, bx, y, side, rng)
            x = bx + side + size * 2
        truth.append(f"{question} Yes No")
        y += size * 2
    return image.crop((0, 0, width, y + size)), truth


def make_docs(seed: int = 11) -> list[SyntheticSample]:
    """Every family, five samples each; deterministic."""
    rng = random.Random(seed)
    samples: list[SyntheticSample] = []

    def add(kind: str, family: str, image: Image.Image, lines: list[str], tags: list[str]) -> None:
        name = f"doc_{len(samples):03d}_{family}"
        samples.append(SyntheticSample(name, kind, family, "eng", image, "\n".join(x for x in lines if x), tags))

    for _ in range(5):
        lines = receipt_lines(rng)
        image = render_receipt(lines, _font("mono", rng, rng.choice([15, 17, 19])), squeeze=0.8)
        add("receipt", "receipt-mono", image, lines, ["mono", "squeezed"])
        lines = receipt_lines(rng)
        image = fade(render_receipt(lines, _font(rng.choice(["mono", "sans"]), rng, rng.choice([16, 18])), 0.9), rng)
        add("receipt", "receipt-faded", image, lines, ["faded"])
        lines = receipt_lines(rng)
        image = uneven(render_receipt(lines, _font(rng.choice(["mono", "sans"]), rng, rng.choice([16, 20])), 1.0), rng)
        add("receipt", "receipt-uneven", _jpeg(image, rng.choice([40, 60])), lines, ["uneven"])
        font = _font(rng.choice(["sans", "serif"]), rng, rng.choice([18, 22, 26]))
        image, lines = render_table(rng, font, merged=False, line_gray=0, line_width=rng.choice([1, 2]))
        add("table", "table-grid", image, lines, ["grid"])
        image, lines = render_table(rng, font, merged=True, line_gray=0, line_width=2)
        add("table", "table-merged", image, lines, ["merged"])
        image, lines = render_table(
            rng, _font("sans", rng, rng.choice([20, 24])), merged=False, line_gray=205, line_width=1
        )
        add("table", "table-light", image, lines, ["light-grid"])
        font = _font(rng.choice(["sans", "serif"]), rng, rng.choice([20, 24]))
        image, lines = render_form(rng, font, checks=False)
        add("form", "form-boxes", image, lines, ["boxes"])
        image, lines = render_form(rng, font, checks=True)
        add("form", "form-checks", image, lines, ["checkboxes"])
    ticks = random.Random(seed + 1)  # a generator of its own: the families above stay as they were
    for _ in range(5):
        image, lines = render_ticks(ticks, _font(ticks.choice(["sans", "serif"]), ticks, ticks.choice([18, 22, 26])))
        add("form", "form-ticks", image, lines, ["checkboxes", "ticks"])
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.synthetic_docs", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(".bench/synthetic-docs"), help="folder to write the set to")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    written = write_samples(args.out, make_docs(args.seed))
    print(f"wrote {len(written)} samples to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

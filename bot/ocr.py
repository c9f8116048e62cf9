"""Business-card photos to text with Tesseract (chi_sim + eng), kept out of the flows package.

OCR is slow (about a second per card) and needs the system packages tesseract-ocr,
tesseract-ocr-chi-sim and tesseract-ocr-eng, so it lives at the edge: the bot calls
`read_card_text` in a worker thread and hands the text to `flows.business_card.parse_card`.
Nothing read from a card is logged; it is personal data.

A card mixes a 16-pt bold name with 7-pt details, and Tesseract reads each size best at a
different scale: on the whole card it splits big CJK characters into pieces ("销售总监" came back
as "销 y/o) MIA") or drops a short bold name altogether. So the card is cut into its printed
lines here, every line is scaled to the same height, and the lines are read together, stacked
on one sheet, in a single Tesseract run. Cutting lines by blank rows needs a straight card
without the table around it, so the photo is straightened and cropped first.
"""

from __future__ import annotations

import io
import itertools
import logging
import os
import statistics
import time
import unicodedata
from array import array
from collections.abc import Sequence
from functools import cache

import pytesseract
from PIL import Image, ImageOps, UnidentifiedImageError

log = logging.getLogger(__name__)

# Tesseract's OpenMP threads cost more than they save on an image this small, and the bot may
# run several cards at once (Tesseract's own advice for parallel runs).
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

LANGS = ("chi_sim", "eng")
# The card, cut out of the photo, is brought to this width range so the size thresholds below
# mean the same on every photo (a far shot is upscaled, a close one shrunk, bounding the work).
MIN_WIDTH = 1600
MAX_WIDTH = 2400
MAX_PIXELS = 40_000_000  # refuse decompression bombs before decoding them
# Every line is read at this height in pixels; lines Tesseract is unsure of are read once
# more at the second one, and the more confident reading wins. Found by rendering cards of
# every layout at 0.4-2.5x (tests/cardgen.py): no single height reads all names.
LINE_HEIGHT = 30
RETRY_HEIGHT = 24
UNSURE = 70  # Tesseract's word confidence, 0-100
# psm 6: a uniform block of text, which the stacked sheet is by construction.
CONFIG = "--oem 1 --psm 6"
MAX_SKEW = 5  # degrees; a card photographed more crooked than this is not straightened
INK = 128  # gray level below which a pixel is ink
PAPER = 160  # and above which it is paper

Box = tuple[int, int, int, int]  # left, top, right, bottom
Word = tuple[int, int, int, int, str]  # left, top, width, height, text


class OcrError(Exception):
    """Reading the card failed; the bot asks the person to type the details instead."""


class OcrUnavailable(OcrError):
    """Tesseract or one of its language packs is not installed on this machine."""


class UnreadableImage(OcrError):
    """The bytes are not a picture Pillow can open (or too large to open safely)."""


class OcrTimeout(OcrError):
    """Tesseract took longer than the allowed time."""


@cache
def _check_tesseract() -> None:
    """Fail once, clearly, when the binary or a language pack is missing, instead of on every card."""
    try:
        installed = set(pytesseract.get_languages(config=""))
    except (pytesseract.TesseractNotFoundError, OSError) as exc:
        raise OcrUnavailable("tesseract is not installed (apt-get install tesseract-ocr)") from exc
    missing = [lang for lang in LANGS if lang not in installed]
    if missing:
        packs = " ".join("tesseract-ocr-" + lang.replace("_", "-") for lang in missing)
        raise OcrUnavailable(
            f"tesseract language data missing: {', '.join(missing)} (apt-get install {packs})"
        )


def prepare(image_bytes: bytes) -> Image.Image:
    """Decode and clean a photo: upright, grayscale, full contrast, straight, cut to the card,
    a sensible size, rules erased."""
    try:
        with Image.open(io.BytesIO(image_bytes)) as probe:
            if probe.width * probe.height > MAX_PIXELS:
                raise UnreadableImage("image too large")
            probe.load()
            img = ImageOps.exif_transpose(probe)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise UnreadableImage("not an image") from exc
    if img.mode in ("RGBA", "LA", "P"):
        # transparent PNGs: paint the transparent part white, not black, before dropping alpha
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    gray = _fit(img.convert("L"), 1, 3200)  # still MAX_WIDTH for a card filling 3/4 of the photo
    gray = _crop_to_paper(_straighten(ImageOps.autocontrast(gray, cutoff=1)))
    return _erase_rules(_fit(gray, MIN_WIDTH, MAX_WIDTH))


def _fit(gray: Image.Image, least: int, most: int) -> Image.Image:
    if least <= gray.width <= most:
        return gray
    width = least if gray.width < least else most
    return gray.resize((width, max(1, round(gray.height * width / gray.width))), Image.Resampling.LANCZOS)


def _crop_to_paper(gray: Image.Image) -> Image.Image:
    """The card without the table around it, so sizes below are relative to the card.

    The card is the bright part of the photo: rows and columns at least half as bright as the
    brightest, found on a small copy. The card's own edge is cut off too (no text is printed
    that close to it), or its shadow would join the lines. A photo of only the card, or of a
    card on a white desk, loses just that edge.
    """
    scale = min(1.0, 800 / gray.width)
    small = gray.resize((max(1, round(gray.width * scale)), max(1, round(gray.height * scale))))
    paper = small.point(lambda v: 255 if v >= PAPER else 0)
    rows, cols = _row_profile(paper), _col_profile(paper)
    if max(rows) == 0:
        return gray  # no paper at all: a dark picture, read as it is
    ys = [y for y, count in enumerate(rows) if count >= 0.5 * max(rows)]
    xs = [x for x, count in enumerate(cols) if count >= 0.5 * max(cols)]
    inset = 0.01 * max(xs[-1] - xs[0], ys[-1] - ys[0])
    left, top = (xs[0] + inset) / scale, (ys[0] + inset) / scale
    right, bottom = (xs[-1] + 1 - inset) / scale, (ys[-1] + 1 - inset) / scale
    if right - left < 0.1 * gray.width or bottom - top < 0.1 * gray.height:
        return gray
    return gray.crop((round(left), round(top), round(right), round(bottom)))


def _ink(gray: Image.Image) -> Image.Image:
    return gray.point(lambda v: 255 if v < INK else 0)


def _means(ink: Image.Image, size: tuple[int, int]) -> array[float]:
    """`ink` averaged down to `size` (a row or a column), as floats: 8-bit means would round a
    few pixels of ink away."""
    return array("f", ink.convert("F").resize(size, Image.Resampling.BOX).tobytes())


def _row_profile(ink: Image.Image) -> list[float]:
    """Ink pixels in each row of a 255-is-ink image."""
    return [v * ink.width / 255 for v in _means(ink, (1, ink.height))]


def _col_profile(ink: Image.Image) -> list[float]:
    return [v * ink.height / 255 for v in _means(ink, (ink.width, 1))]


def _straighten(gray: Image.Image) -> Image.Image:
    """Undo the slight tilt of a hand-held photo; the lines are cut by horizontal gaps below.

    The angle is the one whose row profile is sharpest (rows alternate between full and empty),
    searched on a small copy, in whole degrees and then in quarters.
    """
    small = _ink(gray.resize((400, max(1, round(gray.height * 400 / gray.width)))))

    def sharpness(angle: float) -> float:
        rows = _row_profile(small.rotate(angle, Image.Resampling.BILINEAR, fillcolor=0))
        return sum((a - b) ** 2 for a, b in itertools.pairwise(rows))

    degrees = max(range(-MAX_SKEW, MAX_SKEW + 1), key=sharpness)
    best = max((degrees + quarter / 4 for quarter in range(-3, 4)), key=sharpness)
    if abs(best) < 0.2:
        return gray
    # the corners uncovered by turning take the colour of the photo's edge (white paper, a dark
    # table), so they are cropped or erased with it instead of leaving wedges of ink
    edge = (
        gray.crop((0, 0, gray.width, 1)).tobytes()
        + gray.crop((0, gray.height - 1, gray.width, gray.height)).tobytes()
    )
    return gray.rotate(best, Image.Resampling.BICUBIC, expand=True, fillcolor=statistics.median_low(edge))


def _erase_rules(gray: Image.Image) -> Image.Image:
    """Paint over printed rules, colour bars and the dark table around a card.

    A rule under the title line makes Tesseract read the line above it as noise ("销售 oon"), and
    a colour bar down the side would join every line into one; no row or column of text is more
    than about half ink, so rows and columns that are mostly dark are decoration, not letters.
    """
    ink = _ink(gray)
    cleaned = gray.copy()
    for y, level in enumerate(_row_profile(ink)):
        if level > 0.6 * gray.width:
            cleaned.paste(255, (0, max(0, y - 1), gray.width, y + 2))  # and the anti-aliased edges
    for x, level in enumerate(_col_profile(ink)):
        if level > 0.6 * gray.height:
            cleaned.paste(255, (max(0, x - 1), 0, x + 2, gray.height))
    return cleaned


# ------------------------------------------------------------------ cutting the card into lines


def _runs(profile: Sequence[float], min_ink: float, min_gap: int) -> list[tuple[int, int]]:
    """(start, end) of the stretches with ink, bridging gaps narrower than `min_gap`."""
    runs: list[tuple[int, int]] = []
    start, last = -1, -1
    for i, value in enumerate(profile):
        if value < min_ink:
            continue
        if start < 0:
            start = i
        elif i - last - 1 >= min_gap:
            runs.append((start, last + 1))
            start = i
        last = i
    if start >= 0:
        runs.append((start, last + 1))
    return runs


def _trim(ink: Image.Image, box: Box) -> Box | None:
    bbox = ink.crop(box).getbbox()
    if bbox is None:
        return None
    return (box[0] + bbox[0], box[1] + bbox[1], box[0] + bbox[2], box[1] + bbox[3])


def text_lines(ink: Image.Image, box: Box | None = None, depth: int = 0) -> list[list[Box]]:
    """The printed lines in `box`, top to bottom, each as its pieces left to right.

    Rows of ink separated by blank rows are lines; a line is cut where a gap is wider than a
    word space, so "王芳  Fang Wang" gives two pieces that are scaled separately. A piece that
    is itself several lines (a name block beside a column of phone numbers) is cut again.
    A gap wider than 1.5 line heights separates columns, which become lines of their own.
    """
    box = box or (0, 0, ink.width, ink.height)
    left, top, right, _ = box
    region = ink.crop(box)
    lines: list[list[Box]] = []
    max_gap = max(8, round(0.03 * ink.width))  # a word space is never wider, whatever the line
    for y0, y1 in _runs(_row_profile(region), 1.5, 2):
        height = y1 - y0
        if height < 10:  # specks, the edge of a table: smaller text than this is unreadable anyway
            continue
        band = (left, top + y0, right, top + y1)
        pieces: list[Box] = []
        gap = min(max_gap, max(6, round(0.6 * height)))
        if height > 0.15 * ink.height:
            # no printed line is this tall: a colour bar or a logo beside the text joins the
            # lines into one band, so cut it at any clear column gap and look inside again
            gap = max(6, round(0.01 * ink.width))
        for x0, x1 in _runs(_col_profile(ink.crop(band)), 0.5, gap):
            piece = _trim(ink, (left + x0, top + y0, left + x1, top + y1))
            if piece is None or piece[2] - piece[0] < 0.2 * (piece[3] - piece[1]):  # bars, edges
                continue
            inner = [[piece]] if depth >= 4 or piece == box else text_lines(ink, piece, depth + 1)
            if not inner:
                continue
            if len(inner) == 1 and len(inner[0]) == 1:
                piece = inner[0][0]  # one piece after all, perhaps trimmed of a speck
            else:
                if pieces:
                    lines.append(pieces)
                    pieces = []
                lines.extend(inner)
                continue
            if pieces and piece[0] - pieces[-1][2] > 1.5 * height:
                lines.append(pieces)
                pieces = []
            pieces.append(piece)
        if pieces:
            lines.append(pieces)
    return lines


# ------------------------------------------------------------------ reading the lines


def _strip(gray: Image.Image, pieces: list[Box], height: int) -> Image.Image:
    """One line with every piece scaled to `height`, a word space apart."""
    scaled = []
    for box in pieces:
        crop = gray.crop(box)
        width = max(1, round(crop.width * height / crop.height))
        scaled.append(crop.resize((width, height), Image.Resampling.LANCZOS))
    strip = Image.new("L", (sum(p.width for p in scaled) + height * (len(scaled) - 1), height), 255)
    x = 0
    for piece in scaled:
        strip.paste(piece, (x, 0))
        x += piece.width + height
    return strip


def _is_cjk(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F") and ch.isalnum()


def _join_words(words: list[Word]) -> str:
    """Words of one line, left to right: CJK characters that touch are one word, not "张 伟"."""
    words = sorted(words)
    height = statistics.median(w[3] for w in words) or 1
    out = words[0][4]
    for (left, _, width, _, _), (next_left, _, _, _, text) in itertools.pairwise(words):
        gap = next_left - (left + width)
        out += text if gap < 0.6 * height and _is_cjk(out[-1]) and _is_cjk(text[0]) else " " + text
    return out


def _read(strips: list[Image.Image], height: int, timeout: float) -> list[tuple[str, float]]:
    """(text, lowest word confidence) of each strip, read stacked on one sheet in one run."""
    sheet = Image.new("L", (max(s.width for s in strips) + 2 * height, (2 * len(strips) + 1) * height), 255)
    for i, strip in enumerate(strips):
        sheet.paste(strip, (height, (2 * i + 1) * height))
    try:
        data = pytesseract.image_to_data(
            sheet, lang="+".join(LANGS), config=CONFIG, timeout=timeout, output_type=pytesseract.Output.DICT
        )
    except RuntimeError as exc:  # pytesseract signals its timeout this way
        raise OcrTimeout(f"OCR took longer than {timeout:g}s") from exc
    except pytesseract.TesseractError as exc:
        raise UnreadableImage("tesseract could not read the image") from exc
    found: list[list[tuple[Word, float]]] = [[] for _ in strips]
    for i, text in enumerate(data["text"]):
        word, conf = text.strip(), float(data["conf"][i])
        if not word or conf < 0:
            continue
        middle = data["top"][i] + data["height"][i] / 2
        row = int((middle / height - 0.5) // 2)  # strip i is at 2i+1 heights, half a gap either side
        if 0 <= row < len(strips):
            box = (data["left"][i], data["top"][i], data["width"][i], data["height"][i], word)
            found[row].append((box, conf))
    return [(_join_words([w for w, _ in ws]), min(c for _, c in ws)) if ws else ("", -1.0) for ws in found]


def _text_shaped(box: Box, page_height: int) -> bool:
    """Logos, QR codes and shadows are taller than a line of a card; dotted rules and table
    edges are longer for their height than any line of text."""
    width, height = box[2] - box[0], box[3] - box[1]
    return height <= 0.25 * page_height and width <= 60 * height


def read_card_text(image_bytes: bytes, *, timeout: float = 20) -> str:
    """The text on a card photo, one printed line per line, top to bottom.

    Raises OcrUnavailable (not installed), UnreadableImage (not a picture) or OcrTimeout.
    A blank or unreadable card gives an empty or near-empty string, not an error.
    """
    _check_tesseract()
    deadline = time.monotonic() + timeout
    gray = prepare(image_bytes)
    lines = [ps for ps in text_lines(_ink(gray)) if all(_text_shaped(box, gray.height) for box in ps)]
    if not lines:
        return ""
    read = _read([_strip(gray, ps, LINE_HEIGHT) for ps in lines], LINE_HEIGHT, timeout)
    unsure = [i for i, (_, conf) in enumerate(read) if conf < UNSURE]
    if unsure:
        left = max(1.0, deadline - time.monotonic())
        again = _read([_strip(gray, lines[i], RETRY_HEIGHT) for i in unsure], RETRY_HEIGHT, left)
        for i, second in zip(unsure, again, strict=True):
            if second[1] > read[i][1]:
                read[i] = second
    log.debug("card OCR: %d lines, %d read twice", len(lines), len(unsure))
    return "\n".join(text for text, _ in read if text)

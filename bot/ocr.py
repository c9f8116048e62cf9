"""Business-card photos to text with Tesseract (chi_sim + eng), kept out of the flows package.

OCR is slow (about a second per card) and needs the system packages tesseract-ocr,
tesseract-ocr-chi-sim and tesseract-ocr-eng, so it lives at the edge: the bot calls
`read_card_text` in a worker thread and hands the text to `flows.business_card.parse_card`.
Nothing read from a card is logged; it is personal data.
"""

from __future__ import annotations

import io
import logging
import statistics
import unicodedata
from functools import cache

import pytesseract
from PIL import Image, ImageOps, UnidentifiedImageError

log = logging.getLogger(__name__)

LANGS = ("chi_sim", "eng")
# Tesseract reads best when capital letters are 20-40 px tall; a card photo narrower than this is
# upscaled so 7-pt contact details reach that size. Wider photos are shrunk: OCR time grows with
# the pixel count while accuracy stops improving.
MIN_WIDTH = 1600
MAX_WIDTH = 2400
MAX_PIXELS = 40_000_000  # refuse decompression bombs before decoding them
# psm 11 ("sparse text"): a card is scattered lines, not a page of paragraphs, and the
# automatic page layout (psm 3) drops short isolated lines such as a lone phone number.
CONFIG = "--oem 1 --psm 11"


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
        raise OcrUnavailable(f"tesseract language data missing: {', '.join(missing)} (apt-get install {packs})")


def prepare(image_bytes: bytes) -> Image.Image:
    """Decode and clean a photo: upright, grayscale, a sensible size, full contrast."""
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
    gray = img.convert("L")
    if gray.width < MIN_WIDTH or gray.width > MAX_WIDTH:
        target = MIN_WIDTH if gray.width < MIN_WIDTH else MAX_WIDTH
        factor = target / gray.width
        gray = gray.resize((target, max(1, round(gray.height * factor))), Image.Resampling.LANCZOS)
    gray = ImageOps.autocontrast(gray, cutoff=1)
    return _erase_rules(gray)


def _erase_rules(gray: Image.Image) -> Image.Image:
    """Paint over printed rules, colour bars and the dark table around a card.

    A rule under the title line makes Tesseract read the line above it as noise ("销售 oon"); no
    row or column of text is more than about half ink, so rows and columns that are mostly dark
    are decoration, not letters.
    """
    ink = gray.point(lambda v: 255 if v < 128 else 0)
    rows = ink.resize((1, gray.height), Image.Resampling.BOX).getdata()
    cols = ink.resize((gray.width, 1), Image.Resampling.BOX).getdata()
    cleaned = gray.copy()
    for y, level in enumerate(rows):
        if level > 0.6 * 255:
            cleaned.paste(255, (0, y, gray.width, y + 1))
    for x, level in enumerate(cols):
        if level > 0.6 * 255:
            cleaned.paste(255, (x, 0, x + 1, gray.height))
    return cleaned


def _is_cjk(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F") and ch.isalnum()


Word = tuple[int, int, int, int, str]  # left, top, width, height, text


def _join_line(words: list[Word]) -> str:
    """Words of one line, left to right: CJK characters that touch are one word, not "张 伟"."""
    words = sorted(words)
    height = statistics.median(w[3] for w in words) or 1
    out = words[0][4]
    for (left, _, width, _, _), (next_left, _, _, _, text) in zip(words, words[1:], strict=False):
        gap = next_left - (left + width)
        if gap > 1.5 * height:
            out += "\n" + text  # a wide gap separates columns (name left, phone right)
        elif gap < 0.6 * height and _is_cjk(out[-1]) and _is_cjk(text[0]):
            out += text
        else:
            out += " " + text
    return out


def _visual_lines(words: list[Word]) -> list[list[Word]]:
    """Group words into printed lines by vertical overlap, top to bottom.

    Tesseract's own line numbers are per block, and in sparse mode one printed line can come
    back as several blocks, so its numbering would scramble "Huawei Technologies Co., Ltd.".
    """
    lines: list[tuple[float, float, list[Word]]] = []  # top, bottom, words
    for word in sorted(words, key=lambda w: w[1] + w[3] / 2):
        middle = word[1] + word[3] / 2
        for i, (top, bottom, members) in enumerate(lines):
            if top <= middle <= bottom:
                members.append(word)
                lines[i] = (min(top, word[1]), max(bottom, word[1] + word[3]), members)
                break
        else:
            lines.append((word[1], word[1] + word[3], [word]))
    return [members for _, _, members in sorted(lines, key=lambda line: line[0])]


def read_card_text(image_bytes: bytes, *, timeout: float = 20) -> str:
    """The text on a card photo, one printed line per line, top to bottom.

    Raises OcrUnavailable (not installed), UnreadableImage (not a picture) or OcrTimeout.
    A blank or unreadable card gives an empty or near-empty string, not an error.
    """
    _check_tesseract()
    img = prepare(image_bytes)
    try:
        data = pytesseract.image_to_data(
            img, lang="+".join(LANGS), config=CONFIG, timeout=timeout, output_type=pytesseract.Output.DICT
        )
    except RuntimeError as exc:  # pytesseract signals its timeout this way
        raise OcrTimeout(f"OCR took longer than {timeout:g}s") from exc
    except pytesseract.TesseractError as exc:
        raise UnreadableImage("tesseract could not read the image") from exc
    words: list[Word] = []
    for i, text in enumerate(data["text"]):
        word = text.strip()
        if word and float(data["conf"][i]) >= 0:
            words.append((data["left"][i], data["top"][i], data["width"][i], data["height"][i], word))
    ordered = _visual_lines(words)
    result = "\n".join(_join_line(ws) for ws in ordered)
    log.debug("card OCR: %d lines", len(ordered))
    return result


"""Render business cards to PNG bytes, so OCR tests run on pictures whose truth we know.

A printed card is 90 x 54 mm; at the 300 dpi a phone photo of a card roughly gives, that is about
1060 x 640 pixels. Details (phone, e-mail, address) are printed at 7-9 pt, names at 12-16 pt;
the `scale` argument shrinks or enlarges the whole card to mimic a far or close photo.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_DIR = Path("/usr/share/fonts/opentype/noto")
REGULAR = FONT_DIR / "NotoSansCJK-Regular.ttc"
BOLD = FONT_DIR / "NotoSansCJK-Bold.ttc"
SC_INDEX = 2  # face "Noto Sans CJK SC" inside the collection: simplified Chinese glyph shapes

CARD_W, CARD_H = 1063, 638  # 90 x 54 mm at 300 dpi
PT = 300 / 72  # pixels per typographic point at 300 dpi

Layout = Literal["zh", "en", "bilingual", "split"]


@dataclass(frozen=True)
class Card:
    """What is printed on the card; fields left empty are not printed."""

    name: str
    company: str
    position: str = ""
    mobile: str = ""  # as printed, e.g. "138 0013 8000"
    tel: str = ""
    fax: str = ""
    email: str = ""
    address: str = ""
    website: str = ""
    name_en: str = ""
    company_en: str = ""
    position_en: str = ""
    address_en: str = ""
    extra: tuple[str, ...] = field(default_factory=tuple)


def fonts_available() -> bool:
    return REGULAR.exists() and BOLD.exists()


def _draw(draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, font: ImageFont.FreeTypeFont) -> None:
    if xy[0] + draw.textlength(text, font=font) > CARD_W - 30:
        raise ValueError(f"line too wide for the card: {text!r}")
    draw.text(xy, text, font=font, fill=(30, 30, 30))


def _font(size_pt: float, *, bold: bool = False) -> ImageFont.FreeTypeFont:
    path = BOLD if bold else REGULAR
    return ImageFont.truetype(str(path), round(size_pt * PT), index=SC_INDEX)


Segment = tuple[str, float, bool]  # text, size in pt, bold
Row = list[Segment]  # segments printed side by side on one line


def _details(card: Card, layout: Layout) -> list[Row]:
    zh_labels = layout == "zh"
    labels = {
        "mobile": "手机: " if zh_labels else "M: ",
        "tel": "电话: " if zh_labels else "T: ",
        "fax": "传真: " if zh_labels else "F: ",
        "email": "邮箱: " if zh_labels else ("E: " if layout == "split" else "E-mail: "),
        "website": "网址: " if zh_labels else "Web: ",
    }
    size = 8.0 if layout in ("zh", "en") else 7.5
    rows: list[Row] = []
    for key in ("mobile", "tel", "fax", "email", "website"):
        value = getattr(card, key)
        if value:
            rows.append([(labels[key] + value, size, False)])
    if layout != "en" and card.address:
        rows.append([("地址: " + card.address, size, False)])
    if layout == "en" and card.address_en:
        rows.append([("Add: " + card.address_en, 7.0, False)])
    rows.extend([(line, size, False)] for line in card.extra)
    return rows


def _header(card: Card, layout: Layout) -> list[Row]:
    if layout == "en":
        rows: list[Row] = [
            [(card.company_en or card.company, 10, True)],
            [(card.name_en or card.name, 15, True)],
        ]
        if card.position_en:
            rows.append([(card.position_en, 9, False)])
        return rows
    rows = [[(card.company, 10, True)]]
    if layout == "bilingual" and card.company_en:
        rows.append([(card.company_en, 7, False)])
    if layout == "bilingual":
        rows.append([(card.name, 15, True), (card.name_en, 9, False)])
        rows.append([(card.position, 8, False), (card.position_en, 8, False)])
    else:
        rows.append([(card.name, 16, True)])
        if card.position:
            rows.append([(card.position, 9, False)])
    return [[seg for seg in row if seg[0]] for row in rows]


def _draw_rows(draw: ImageDraw.ImageDraw, rows: list[Row], x: int, y: int, spacing: float) -> int:
    """Draw rows from (x, y) with segments sharing a baseline; returns the y below the last row."""
    for row in rows:
        tallest = max(size for _, size, _ in row)
        cursor = x
        for text, size, bold in row:
            font = _font(size, bold=bold)
            baseline_shift = round((tallest - size) * PT * 0.8)
            _draw(draw, (cursor, y + baseline_shift), text, font)
            cursor += round(draw.textlength(text, font=font)) + round(tallest * PT * 0.8)
        y += round(tallest * PT * spacing)
    return y


def render(
    card: Card,
    *,
    layout: Layout = "zh",
    scale: float = 1.0,
    blur: float = 0.0,
    tint: tuple[int, int, int] = (255, 255, 255),
) -> bytes:
    """PNG bytes of `card` in one of the layouts.

    zh / en: one language, details labelled in that language (手机/M: ...). bilingual: Chinese
    with the English name, title and company next to or under it, English labels. split: name
    block left, phone and e-mail in a right-hand column, address across the bottom.
    """
    img = Image.new("RGB", (CARD_W, CARD_H), tint)
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, 18, CARD_H), fill=(20, 70, 140))  # a colour bar, as printed cards have
    x, y = 70, 45
    header, details = _header(card, layout), _details(card, layout)
    if layout == "split":
        y = _draw_rows(draw, header, x, y, 1.45)
        contact_rows = [row for row in details if not row[0][0].startswith("地址")]
        address_rows = [row for row in details if row[0][0].startswith("地址")]
        _draw_rows(draw, contact_rows, 500, max(y + 20, 250), 1.6)
        y = _draw_rows(draw, address_rows, x, CARD_H - 80, 1.5)
    else:
        y = _draw_rows(draw, header, x, y, 1.45)
        draw.line((x, y + 12, CARD_W - 70, y + 12), fill=(20, 70, 140), width=3)
        y = _draw_rows(draw, details, x, y + 30, 1.5)
    if y > CARD_H:
        raise ValueError("card content does not fit; shorten it")
    if scale != 1.0:
        img = img.resize((round(CARD_W * scale), round(CARD_H * scale)), Image.Resampling.LANCZOS)
    if blur:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def blank(width: int = CARD_W, height: int = CARD_H) -> bytes:
    """An empty white card: what a photo of the back of a card, or of the table, gives."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), (255, 255, 255)).save(out, format="PNG")
    return out.getvalue()

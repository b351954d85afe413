"""Draws the Teams app icons: color.png (192x192) and outline.png (32x32, white on transparent).

Run with the assistant environment (Pillow): `.venv-rasa/bin/python teams/make_icons.py`.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
BLUE = (0, 80, 140, 255)
WHITE = (255, 255, 255, 255)


def speech_bubble(draw: ImageDraw.ImageDraw, size: int, colour: tuple[int, ...], width: int) -> None:
    """A speech bubble with a check mark: guidance in a chat."""
    m = size * 0.16
    box = (m, m, size - m, size - m * 1.9)
    draw.rounded_rectangle(box, radius=size * 0.12, outline=colour, width=width)
    tail = [(size * 0.32, box[3] - width), (size * 0.30, size - m * 0.9), (size * 0.50, box[3] - width)]
    draw.polygon(tail, fill=colour)
    check = [(size * 0.33, size * 0.44), (size * 0.45, size * 0.56), (size * 0.68, size * 0.32)]
    draw.line(check, fill=colour, width=width, joint="curve")


def main() -> None:
    color = Image.new("RGBA", (192, 192), BLUE)
    speech_bubble(ImageDraw.Draw(color), 192, WHITE, 12)
    color.save(HERE / "color.png")
    outline = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    speech_bubble(ImageDraw.Draw(outline), 32, WHITE, 2)
    outline.save(HERE / "outline.png")


if __name__ == "__main__":
    main()

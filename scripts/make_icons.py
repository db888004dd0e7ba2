"""Draw the site's icons: favicon.svg by hand, and the PNGs (favicon, apple-touch, app icons) with Pillow from
the same shapes, so no SVG renderer is needed. Run: python scripts/make_icons.py (writes static/icons/)."""

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent.parent / "src" / "jianchama" / "static" / "icons"
BRAND = "#b3261e"
# On a 64-unit grid: the rounded square, three QR finder patterns, a check mark in the fourth corner.
FINDERS = [(10, 10), (36, 10), (10, 36)]
CHECK = [(38, 47), (45, 54), (56, 39)]


def svg() -> str:
    finders = "".join(
        f'<rect x="{x}" y="{y}" width="18" height="18" rx="3" fill="#fff"/>'
        f'<rect x="{x + 4}" y="{y + 4}" width="10" height="10" rx="1.5" fill="{BRAND}"/>'
        f'<rect x="{x + 6.5}" y="{y + 6.5}" width="5" height="5" fill="#fff"/>'
        for x, y in FINDERS
    )
    points = " ".join(f"{x},{y}" for x, y in CHECK)
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">'
        f'<rect width="64" height="64" rx="14" fill="{BRAND}"/>{finders}'
        f'<polyline points="{points}" fill="none" stroke="#fff" stroke-width="6" stroke-linecap="round" '
        'stroke-linejoin="round"/></svg>\n'
    )


def png(size: int, *, rounded: bool = True) -> Image.Image:
    scale = 8  # drawn large, then reduced: smooth edges without an SVG renderer
    s = size * scale / 64
    image = Image.new("RGBA", (size * scale, size * scale), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if rounded:
        draw.rounded_rectangle([0, 0, 64 * s - 1, 64 * s - 1], radius=14 * s, fill=BRAND)
    else:  # maskable icons: the platform rounds the corners itself
        draw.rectangle([0, 0, 64 * s, 64 * s], fill=BRAND)
    for x, y in FINDERS:
        draw.rounded_rectangle([x * s, y * s, (x + 18) * s, (y + 18) * s], radius=3 * s, fill="#fff")
        draw.rounded_rectangle(
            [(x + 4) * s, (y + 4) * s, (x + 14) * s, (y + 14) * s], radius=1.5 * s, fill=BRAND
        )
        draw.rectangle([(x + 6.5) * s, (y + 6.5) * s, (x + 11.5) * s, (y + 11.5) * s], fill="#fff")
    points = [(x * s, y * s) for x, y in CHECK]
    draw.line(points, fill="#fff", width=round(6 * s), joint="curve")
    for x, y in points:
        r = 3 * s
        draw.ellipse([x - r, y - r, x + r, y + r], fill="#fff")
    return image.resize((size, size), Image.LANCZOS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "favicon.svg").write_text(svg(), encoding="utf-8")
    png(32).save(OUT / "favicon-32.png", optimize=True)
    png(180, rounded=False).convert("RGB").save(OUT / "apple-touch-icon.png", optimize=True)
    png(192).save(OUT / "icon-192.png", optimize=True)
    png(512).save(OUT / "icon-512.png", optimize=True)
    png(48).save(OUT / "favicon.ico", sizes=[(16, 16), (32, 32), (48, 48)])
    print("icons written to", OUT)


if __name__ == "__main__":
    main()

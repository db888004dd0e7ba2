"""QR rendering of inspection codes (F-22): inline SVG for pages, PNG for downloads and tests.

Error correction Q (25 % of the symbol may be lost): a phone screen held up to another phone's camera
gets glare, reflections and cracked glass; Q still keeps the code at version 8 (see signing.qr_content).
"""

import io

import segno

ERROR_LEVEL = "q"
QUIET_ZONE = 4  # modules of white border the QR standard asks for; scanners fail more often without it


def _make(content: str) -> segno.QRCode:
    # boost_error may raise the level above Q only where the symbol keeps its size, so it costs nothing.
    return segno.make(content, error=ERROR_LEVEL, micro=False)


def qr_svg(content: str, *, title: str | None = None, css_class: str = "qr") -> str:
    """An inline <svg> (no XML declaration) with a viewBox and no width/height, so CSS sizes it.

    One module per user unit keeps the path short; without CSS the SVG fills its container's width, which on
    a phone is the screen. The light colour is painted explicitly so the code scans on a dark-mode page.
    """
    svg = _make(content).svg_inline(
        scale=1,
        border=QUIET_ZONE,
        dark="#000",
        light="#fff",
        omitsize=True,
        svgclass=css_class,
        lineclass=None,
        title=title,
    )
    # crispEdges: scaled to a fractional size, anti-aliasing would draw hairline seams between the rows of
    # modules, which some scanners read as light modules.
    # role="img" needs a name (axe: svg-img-alt): the title, or a plain one when the caller gave none.
    name = "" if title else ' aria-label="二维码"'
    return svg.replace("<svg ", f'<svg role="img"{name} shape-rendering="crispEdges" ', 1)


def qr_svg_image(content: str) -> str:
    """A standalone SVG document (with its namespace, no XML declaration) for an <img src="data:…">: the field
    app's offline code (F-44). An image cannot run script, whatever it holds."""
    svg = qr_svg(content, css_class="qr")
    if "xmlns=" not in svg.split(">", 1)[0]:
        svg = svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1)
    return svg


def qr_png(content: str, scale: int = 8) -> bytes:
    """A PNG of the QR, `scale` pixels a module, with the standard quiet zone."""
    buffer = io.BytesIO()
    _make(content).save(buffer, kind="png", scale=scale, border=QUIET_ZONE, dark="#000", light="#fff")
    return buffer.getvalue()

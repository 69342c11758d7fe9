"""Two loopback "sites" for picture tests: the post's own (nate_pann) and a stranger's.

Built with the sample-site server from a temporary folder, so each path answers as
a real site would: a picture, a redirect, a page that is not an image, a huge file.
"""

from __future__ import annotations

import io
from pathlib import Path

import yaml
from PIL import Image
from wagglebot_stack.sample_site import SampleSite

from conftest import free_ports

OWN, STRANGER = "nate_pann", "zz_stranger"  # sorted: nate_pann gets the first port


def picture(width: int, height: int, fmt: str = "PNG", colour: str = "orange") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, fmt)
    return out.getvalue()


def start_sites(root: Path) -> SampleSite:
    """Serve the two sites from ``root``; returns the running server (``.urls``)."""
    port = free_ports(2)
    stranger = f"http://127.0.0.1:{port + 1}"
    files = {
        "ok.png": picture(640, 400),
        "photo.jpg": picture(1200, 900, "JPEG", "teal"),
        "pixel.gif": picture(1, 1, "GIF"),
        "fake.jpg": b"<html>this is not a picture</html>",
        "huge.jpg": b"\xff\xd8" + b"\0" * (5 * 2**20),
        "page.html": b"<html><body>hello</body></html>",
    }
    routes = {f"/{name}": {"file": name, "content_type": "image/jpeg"} for name in files}
    routes["/ok.png"]["content_type"] = "image/png"
    routes["/page.html"]["content_type"] = "text/html"
    routes["/hop.jpg"] = {"status": 302, "headers": {"Location": "/photo.jpg"}}
    routes["/away.jpg"] = {"status": 302, "headers": {"Location": f"{stranger}/ok.png"}}
    routes["/gone.jpg"] = {"status": 404}
    for code, site_routes in ((OWN, routes), (STRANGER, {"/ok.png": routes["/ok.png"]})):
        folder = root / code
        folder.mkdir(parents=True)
        (folder / "routes.yaml").write_text(yaml.safe_dump(site_routes))
        for name, data in files.items():
            (folder / name).write_bytes(data)
    return SampleSite(port, root, quiet=True).start()

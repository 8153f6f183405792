"""The README's report images: the PDF's first page and the HTML page in a browser window.

A calibrated body-model session (the virtual wearable running ``calibrated_demo``, seed
0: six reference holds, five bridges with the left glute 30 % weaker, the squeeze test)
is recorded, reported as PDF and HTML, and rendered: the PDF's first page by poppler's
``pdftoppm``, the HTML page by headless Chromium (offline) as it first opens in a
1024 x 1400 px window, cut to its text column.

Usage: python docs/report_images.py [OUTPUT_DIR] [--recording S.glutes]   (default: docs/img)
"""
from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
WINDOW_PX = (1024, 1400)
PDF_DPI = 75


def _cli(*argv) -> None:
    from glutescope.cli import Environment, main

    err = io.StringIO()
    status = main([str(a) for a in argv], Environment(stdout=io.StringIO(), stderr=err))
    if status:
        raise SystemExit(f"report_images: glutescope {argv[0]} failed ({status}): {err.getvalue().strip()}")


def _chromium() -> str:
    exe = next((p for p in map(shutil.which, ("chromium-headless-shell", "chromium", "chromium-browser")) if p),
               None)
    if exe is None:
        raise SystemExit("report_images: needs headless Chromium (Debian: apt-get install chromium-headless-shell)")
    return exe


def main(argv) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", type=Path, default=Path(__file__).parent / "img")
    ap.add_argument("--recording", type=Path, help="report this recording instead of recording a new one")
    args = ap.parse_args(argv)
    if shutil.which("pdftoppm") is None:
        raise SystemExit("report_images: needs poppler's pdftoppm (Debian: apt-get install poppler-utils)")
    exe = _chromium()
    from PIL import Image

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rec = args.recording
        if rec is None:
            rec = tmp / "session.glutes"
            _cli("record", rec, "--duration", 126, "--speed", 4, "--exercise", "calibrated_demo",
                 "--subject", "P-0421", "--seed", 0)
        pdf, page = tmp / "report.pdf", tmp / "report.html"
        _cli("report", rec, "-o", pdf, "--html", page)
        subprocess.run(["pdftoppm", "-r", str(PDF_DPI), "-f", "1", "-l", "1", "-singlefile", "-png", str(pdf),
                        str(tmp / "page")], check=True)
        shutil.copyfile(tmp / "page.png", args.out / "report.png")
        shot = tmp / "html.png"
        cmd = [exe, "--headless", "--disable-gpu", "--hide-scrollbars", "--force-device-scale-factor=1",
               "--proxy-server=127.0.0.1:9", f"--user-data-dir={tmp / 'profile'}",
               f"--window-size={WINDOW_PX[0]},{WINDOW_PX[1]}", f"--screenshot={shot}", page.as_uri()]
        if os.geteuid() == 0:
            cmd.insert(1, "--no-sandbox")
        subprocess.run(cmd, check=True, capture_output=True)
        with Image.open(shot) as im:
            img = im.convert("RGB")
        column_px = 180 / 25.4 * 96  # the page's 180 mm column, plus its 4 mm padding each side
        pad_px = 4 / 25.4 * 96 + 12
        x0 = max(0, int((WINDOW_PX[0] - column_px) / 2 - pad_px))
        img.crop((x0, 0, WINDOW_PX[0] - x0, WINDOW_PX[1])).save(args.out / "report-html.png", optimize=True)
    print(f"report_images: wrote {args.out / 'report.png'} and {args.out / 'report-html.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The hardware drawings are generated from source, agree with the docs and the firmware."""

from __future__ import annotations

import ast
import importlib.util
import math
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
HARDWARE = ROOT / "hardware"
FIRMWARE_CONFIG = ROOT / "firmware" / "glutefw" / "config.py"
SVG_NS = "{http://www.w3.org/2000/svg}"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"hardware_{name}", HARDWARE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses resolve annotations through sys.modules while the class is built.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def wiring() -> ModuleType:
    return _load("make_wiring")


@pytest.fixture(scope="module")
def placement() -> ModuleType:
    return _load("make_placement")


def _texts(svg: str) -> list[str]:
    root = ET.fromstring(svg.encode("utf-8"))
    assert root.tag == f"{SVG_NS}svg"
    return ["".join(el.itertext()) for el in root.iter(f"{SVG_NS}text")]


def _firmware_constants() -> dict[str, object]:
    """Top-level NAME = literal or NAME = const(literal) assignments of config.py."""
    tree = ast.parse(FIRMWARE_CONFIG.read_text(encoding="utf-8"))
    values: dict[str, object] = {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)):
            continue
        value = node.value
        if (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
                and value.func.id == "const" and len(value.args) == 1):
            value = value.args[0]
        try:
            values[node.targets[0].id] = ast.literal_eval(value)
        except ValueError:
            continue
    return values


# --- wiring -------------------------------------------------------------------------------

def test_wiring_svg_is_well_formed_and_names_every_pin(wiring: ModuleType) -> None:
    texts = _texts(wiring.build_svg())
    joined = "\n".join(texts)
    for pin in wiring.PIN_MAP:
        assert f"{pin.board_pin} {pin.board_label}" in texts, pin
        assert pin.signal in joined, pin
    for pin in wiring.PIN_MAP:
        if pin.function.startswith("ADC"):
            assert f"{pin.signal} {pin.function}" in texts


def test_pin_map_matches_the_pico_2_w_header(wiring: ModuleType) -> None:
    pins = [p.board_pin for p in wiring.PIN_MAP]
    assert len(pins) == len(set(pins)), "a header pin is used twice"
    for p in wiring.PIN_MAP:
        assert wiring.HEADER_LABELS[p.board_pin] == p.board_label, p
        if p.gpio is not None:
            assert p.board_label == f"GP{p.gpio}", p
        if p.function.startswith("ADC"):
            # RP2350A: ADC n is GPIO 26 + n.
            assert p.gpio == 26 + int(p.function[3:]), p
    # The radio owns GPIO23-25 and GPIO29 on the Pico 2 W.
    assert not {p.gpio for p in wiring.PIN_MAP} & {23, 24, 25, 29}


def test_pin_table_in_wiring_md_is_the_generated_one(wiring: ModuleType) -> None:
    doc = (HARDWARE / "wiring.md").read_text(encoding="utf-8")
    assert wiring.render_doc(doc) == doc
    table = doc.split(wiring.TABLE_START)[1].split(wiring.TABLE_END)[0]
    rows = [line for line in table.strip().splitlines() if line.startswith("| `")]
    assert len(rows) == len(wiring.PIN_MAP)


def test_render_doc_refuses_a_doc_without_markers(wiring: ModuleType) -> None:
    with pytest.raises(ValueError, match="must contain"):
        wiring.render_doc("# Wiring\n\nno table here\n")


def test_committed_wiring_svg_equals_a_fresh_drawing(wiring: ModuleType) -> None:
    assert (HARDWARE / "wiring.svg").read_text(encoding="utf-8") == wiring.build_svg()
    assert wiring.main(["--check"]) == 0


def test_pin_map_agrees_with_firmware_config(wiring: ModuleType) -> None:
    fw = _firmware_constants()
    by_signal = {p.signal: p for p in wiring.PIN_MAP}
    emg = [p for p in wiring.PIN_MAP if p.function.startswith("ADC")]
    mask = 0
    for p in emg:
        adc = int(p.function[3:])
        assert fw["ADC_GPIO_BASE"] + adc == p.gpio
        mask |= 1 << adc
    assert fw["ADC_AVAILABLE_MASK"] == mask
    assert fw["I2C_ID"] == 0 and by_signal["IMU_SDA"].function.startswith("I2C0")
    assert fw["I2C_SDA_GPIO"] == by_signal["IMU_SDA"].gpio
    assert fw["I2C_SCL_GPIO"] == by_signal["IMU_SCL"].gpio
    assert fw["IMU_ADDR"] == wiring.IMU_I2C_ADDR
    assert fw["VSYS_GPIO"] == 29
    if "IMU_INT1_GPIO" in fw:
        assert fw["IMU_INT1_GPIO"] == by_signal["IMU_INT1"].gpio


# --- placement ----------------------------------------------------------------------------

def test_placement_figures_are_well_formed_and_label_the_sites(placement: ModuleType) -> None:
    posterior = "\n".join(_texts(placement.build_posterior_svg()))
    for site in placement.SITES:
        assert f"{site.key} {site.muscle}" in posterior
    for key, _, _ in placement.ERECTOR_SITES:
        assert key in posterior
    assert "PSIS" in posterior and "greater trochanter" in posterior
    imu = "\n".join(_texts(placement.build_imu_svg()))
    for axis in ("x forward", "y left", "z up"):
        assert axis in imu


def test_electrode_pairs_follow_the_seniam_rule(placement: ModuleType) -> None:
    gmax = next(s for s in placement.SITES if s.key == "GMax")
    a = placement.LANDMARKS["S2 (sacral vertebrae)"]
    b = placement.LANDMARKS["greater trochanter"]
    assert placement.site_centre(gmax) == pytest.approx(((a.x_mm + b.x_mm) / 2,
                                                         (a.y_mm + b.y_mm) / 2))
    for site in placement.SITES:
        (x1, y1), (x2, y2) = placement.site_electrodes(site)
        assert math.hypot(x2 - x1, y2 - y1) == pytest.approx(20.0)
        # The pair lies along the orientation line (zero cross product).
        o1, o2 = placement.LANDMARKS[site.orient_from], placement.LANDMARKS[site.orient_to]
        cross = (x2 - x1) * (o2.y_mm - o1.y_mm) - (y2 - y1) * (o2.x_mm - o1.x_mm)
        assert cross == pytest.approx(0.0, abs=1e-9)


def test_site_centre_rejects_a_fraction_outside_the_line(placement: ModuleType) -> None:
    bad = placement.Site("X", "test", "iliac crest", "greater trochanter", 1.5,
                         "iliac crest", "greater trochanter", True, "")
    with pytest.raises(ValueError, match="fraction must be within 0-1, got 1.5"):
        placement.site_centre(bad)


def test_committed_placement_svgs_equal_a_fresh_drawing(placement: ModuleType) -> None:
    for name, build in placement.FIGURES.items():
        assert (HARDWARE / name).read_text(encoding="utf-8") == build(), name
    assert placement.main(["--check"]) == 0


def _anchors(markdown: str) -> set[str]:
    """GitHub-style heading anchors of a Markdown document."""
    anchors = set()
    for heading in re.findall(r"^#+ (.+)$", markdown, flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def test_docs_link_only_to_files_and_headings_that_exist() -> None:
    docs = sorted(HARDWARE.glob("*.md"))
    assert {d.name for d in docs} >= {"README.md", "bom.md", "wiring.md", "assembly.md",
                                     "electrode-placement.md", "safety.md"}
    for doc in docs:
        text = doc.read_text(encoding="utf-8")
        for target, anchor in re.findall(r"\]\(([^)#:]*)(?:#([^)]*))?\)", text):
            path = doc.parent / target if target else doc
            assert path.exists(), f"{doc.name} links to missing {target}"
            if anchor:
                assert anchor in _anchors(path.read_text(encoding="utf-8")), (
                    f"{doc.name} links to missing heading {target}#{anchor}")

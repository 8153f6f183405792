"""Fixtures of the real-MicroPython layer: the binary, or a loud skip saying how to get it."""
import pytest

from realstack_harness import HOW_TO_GET_IT, find_binary


def pytest_report_header(config):
    binary = find_binary()
    if binary is None:
        return f"real-MicroPython layer: SKIPPED, no binary: {HOW_TO_GET_IT}"
    return f"real-MicroPython layer: {binary}"


@pytest.fixture(scope="session")
def micropython_binary():
    binary = find_binary()
    if binary is None:
        pytest.skip(f"no MicroPython-with-btstack binary: {HOW_TO_GET_IT}")
    return binary

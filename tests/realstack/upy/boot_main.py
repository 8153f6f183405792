"""Entry script of the firmware process: set up the stand-ins' options, then run main.py.

``firmware/main.py`` is imported unchanged (it is on MICROPYPATH), so the firmware boots
exactly as on the board. Options come from the environment:

- GLUTESCOPE_TRACE_IRQ=1: every event the firmware's bluetooth IRQ handler receives is
  printed to stderr as ``IRQ event,field,...`` (ints as they are, buffers as ``bN``, their
  length: addresses are not compared), before the handler runs.
- GLUTESCOPE_IMU_ODR_ERROR_PPM: the stand-in IMU's clock error.
- GLUTESCOPE_PROBE=1: load ``probe`` (heap and task delay figures on stderr).
- GLUTESCOPE_BOOTSEL=1: BOOTSEL is held from power-up on.
"""
import os
import sys

import board

board.imu.odr_error_ppm = int(os.getenv("GLUTESCOPE_IMU_ODR_ERROR_PPM") or "0")

if os.getenv("GLUTESCOPE_BOOTSEL") == "1":
    import rp2

    rp2.bootsel_pressed = True

if os.getenv("GLUTESCOPE_TRACE_IRQ") == "1":
    import irqtrace

    irqtrace.install()

if os.getenv("GLUTESCOPE_PROBE") == "1":
    import probe

    probe.install()


def _report_faults():
    for text in board.faults:
        sys.stderr.write("FAULT %s\n" % text)


try:
    import main  # noqa: F401  (firmware/main.py: boots the wearable and runs until it ends)
except BaseException as exc:  # the unix port prints tracebacks on stdout, among USB frames
    sys.print_exception(exc, sys.stderr)
    _report_faults()
    sys.exit(1)
_report_faults()

"""Getting the REPL back from a running wearable (firmware/README.md, "Getting the REPL back").

An RP2350 started with BOOTSEL held enters its ROM USB bootloader and never runs
MicroPython, so "hold BOOTSEL while powering up" cannot be the way out. Two ways work:

* **A boot window.** For ``BOOT_WINDOW_MS`` after power-up or reset, the LED blinks
  fast: pressing BOOTSEL then (the board already running) or Ctrl-C keeps the REPL.
* **Ctrl-C on USB while the firmware runs.** USB bench mode reads commands from stdin,
  so ``micropython.kbd_intr(-1)`` must stop the VM from taking a command byte 0x03 as
  Ctrl-C. Instead the USB link takes a 0x03 that is *not* followed by a frame delimiter
  within ``ESCAPE_MS`` as a person's (or mpremote's) Ctrl-C: the host always writes a
  command and its delimiter together, so a command never looks like that. The link
  then raises `Escape`, the app shuts down, and ``main.py`` returns to the REPL with
  Ctrl-C enabled again.
"""
import time

from micropython import const

BOOT_WINDOW_MS = const(2000)
ESCAPE_MS = const(250)
_BLINK_MS = const(100)
_CTRL_C = const(3)


class Escape(Exception):
    """A Ctrl-C arrived on USB outside any command: stop the app for the REPL."""


def boot_window(window_ms=BOOT_WINDOW_MS):
    """Blink the LED for ``window_ms``; False if BOOTSEL was pressed (stay on the REPL).

    Ctrl-C is honoured during the window as anywhere on the REPL (KeyboardInterrupt).
    """
    import machine
    import rp2

    try:
        led = machine.Pin("LED", machine.Pin.OUT)
    except (ValueError, TypeError, AttributeError):
        led = None  # a board without a named LED: the window still works
    t0 = time.ticks_ms()
    on = 0
    try:
        while time.ticks_diff(time.ticks_ms(), t0) < window_ms:
            if rp2.bootsel_button():
                return False
            on ^= 1
            if led is not None:
                led.value(on)
            time.sleep_ms(_BLINK_MS)
    finally:
        if led is not None:
            led.value(0)
    return True


def restore_repl():
    """Give Ctrl-C back to the REPL (the USB link disabled it)."""
    import micropython

    micropython.kbd_intr(_CTRL_C)

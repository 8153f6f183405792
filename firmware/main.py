"""Boot entry of the wearable.

For 2 s after power-up or reset the LED blinks fast: press BOOTSEL then (not while
plugging in: that starts the RP2350's ROM bootloader) or Ctrl-C to stay on the REPL.
Later, a Ctrl-C on USB (mpremote sends one) stops the firmware (glutefw/recovery.py).
"""
import asyncio

from glutefw import recovery

if recovery.boot_window():
    from glutefw import app

    try:
        asyncio.run(app.main())
    except recovery.Escape:
        print("glutescope: stopped for the REPL (Ctrl-C on USB)")
    finally:
        recovery.restore_repl()

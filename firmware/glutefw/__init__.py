"""glutescope wearable firmware (MicroPython, RP2350)."""

"""Record what the firmware's bluetooth IRQ handler receives, on the real module.

``install()`` puts a stand-in ``bluetooth`` module into ``sys.modules`` before the
firmware imports it: the same ``UUID`` and the same ``BLE`` singleton, except that
``irq(handler)`` registers a wrapper that prints the event first, and
``gatts_register_services`` prints the handles it returns (``HANDLES h,h,...``, flat, in
registration order) so a trace can name attributes independently of how many handles
the stack's own services take. The memoryviews in ``data`` are valid only during the
call, so only their lengths are taken, right there.
"""
import sys

import bluetooth as _real


def _normalised(event, data):
    parts = [str(event)]
    if data is not None:
        for x in data:
            parts.append(str(x) if isinstance(x, int) else "b%d" % len(x))
    return ",".join(parts)


class _TracedBLE:
    def __init__(self, ble):
        self._ble = ble

    def irq(self, handler):
        def traced(event, data):
            sys.stderr.write("IRQ %s\n" % _normalised(event, data))
            return handler(event, data)

        self._ble.irq(traced)

    def gatts_register_services(self, services):
        handles = self._ble.gatts_register_services(services)
        flat = [str(h) for service in handles for h in service]
        sys.stderr.write("HANDLES %s\n" % ",".join(flat))
        return handles

    def __getattr__(self, name):
        return getattr(self._ble, name)


class _Module:
    UUID = _real.UUID

    @staticmethod
    def BLE():
        return _TracedBLE(_real.BLE())


def install():
    m = _Module()
    for name in dir(_real):
        if not name.startswith("_") and name not in ("BLE", "UUID"):
            setattr(m, name, getattr(_real, name))
    sys.modules["bluetooth"] = m

"""Stand-in ``machine`` for the unix port: ADC registers, one-shot ADC, Pin, I2C, unique_id.

Only what the firmware uses; the behaviour is ``board``'s. ``mem32`` reaches the ADC
registers only: any other address is a fault of the firmware under test.
"""
import board

_UNIQUE_ID = b"\xe6\x61\x38\x2c\x5a\x1c\x3f\x2a"


class _Mem32:
    def __getitem__(self, addr):
        board.advance()
        return board.adc.read(addr)

    def __setitem__(self, addr, value):
        now = board.advance()
        board.adc.write(addr, value, now)


mem32 = _Mem32()


class Pin:
    IN = 0
    OUT = 1
    PULL_UP = 1
    PULL_DOWN = 2

    def __init__(self, gpio, *args, **kwargs):
        self.gpio = gpio
        self._v = 0

    def value(self, v=None):
        if v is None:
            return self._v
        self._v = 1 if v else 0

    def __call__(self, v=None):
        return self.value(v)

    def init(self, *args, **kwargs):
        pass


class ADC:
    def __init__(self, pin):
        self._gpio = pin.gpio if isinstance(pin, Pin) else 26 + pin

    def read_u16(self):
        board.advance()
        return board.adc.one_shot(self._gpio)


class I2C:
    def __init__(self, bus_id, scl=None, sda=None, freq=400_000):
        self.bus_id = bus_id

    def _check(self, addr):
        if addr != board.IMU_ADDR:
            raise OSError(19)  # ENODEV: nobody acknowledges the address

    def readfrom_mem(self, addr, reg, n):
        buf = bytearray(n)
        self.readfrom_mem_into(addr, reg, buf)
        return bytes(buf)

    def readfrom_mem_into(self, addr, reg, buf):
        self._check(addr)
        board.imu.read_into(reg, buf, board.advance())

    def writeto_mem(self, addr, reg, buf):
        self._check(addr)
        now = board.advance()
        for i in range(len(buf)):
            board.imu.write(reg + i, buf[i], now)

    def scan(self):
        return [board.IMU_ADDR]


def unique_id():
    return _UNIQUE_ID


def freq(hz=None):
    return 150_000_000


def idle():
    pass


def reset():
    raise SystemExit("machine.reset()")


def soft_reset():
    raise SystemExit("machine.soft_reset()")

"""The known input fed to the firmware by the stand-in hardware, and expected on the host.

Plain Python that runs on MicroPython and CPython alike: the stand-in ADC and IMU call it
to make each code, the host-side checks call it to say what every sample must be. A
multiplicative hash of (channel, sample index) makes any shift, swap, repeat or drop of
a sample show as a wrong value.
"""

_GOLDEN = 0x9E3779B1  # Knuth's multiplicative hashing constant (2**32 / phi)


def _mix(x):
    x = (x * _GOLDEN) & 0xFFFFFFFF
    return x ^ (x >> 15)


def emg_code(channel, index):
    """12-bit ADC code of input ``channel`` (0-7) at its sample ``index`` (>= 0)."""
    return _mix(index * 8 + channel + 1) & 0x0FFF


def imu_value(index, axis):
    """Signed 16-bit raw word of IMU sample ``index``, axis 0-5 (ax ay az gx gy gz)."""
    v = _mix(index * 6 + axis + 7) & 0xFFFF
    return v - 0x10000 if v & 0x8000 else v

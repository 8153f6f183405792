"""The RAM ring between acquisition and everyone else, indexed by absolute stream index.

A ring holds the newest ``capacity`` samples of one stream; each sample is ``width``
values (EMG: one u16 code per channel, interleaved as the ADC produced them; IMU: six
i16). Indices count samples since START, so the sender, RESEND and the host all speak
of the same numbers. Index arithmetic is plain Python and is tested on CPython.

It also keeps (index, device time) anchors, one per poll of the EMG DMA ring or of the
IMU, so the device time of any sample still in RAM can be given without storing a time
per sample.
"""
from array import array

from micropython import const

_TICKS_PERIOD = const(1 << 30)  # time.ticks_us() wraps here on MicroPython
_TICKS_MASK = const((1 << 30) - 1)


def byte_view(arr, itemsize):
    """A writable byte-wide memoryview over the typed array ``arr``, without copying.

    Sample copies use byte slices so they work between any two buffers; MicroPython's
    memoryview has no ``cast``, so there the view is made with ``uctypes``.
    """
    try:
        return memoryview(arr).cast("B")
    except AttributeError:
        import uctypes

        return memoryview(uctypes.bytearray_at(uctypes.addressof(arr), len(arr) * itemsize))


class Ring:
    """Newest samples of one stream, addressed by absolute sample index.

    Parameters
    ----------
    typecode : str
        ``'H'`` for EMG codes, ``'h'`` for IMU raw values.
    n_values : int
        Storage in values; the capacity in samples is ``n_values // width``.
    n_anchors : int
        How many (index, device time) anchors to keep.
    """

    def __init__(self, typecode, n_values, n_anchors=64):
        self.values = array(typecode, bytearray(2 * n_values))
        self.bytes = byte_view(self.values, 2)
        self._anchor_index = array("i", bytearray(4 * n_anchors))
        self._anchor_t = array("i", bytearray(4 * n_anchors))
        self._n_anchor_slots = n_anchors
        self.reset(1, 1000)

    def reset(self, width, fs_hz):
        """Empty the ring for a new stream of ``width``-value samples at ``fs_hz``."""
        self.width = width
        self.fs_hz = fs_hz
        self.capacity = len(self.values) // width
        self.head = 0  # index of the next sample to be written = samples written so far
        self._anchors = 0  # anchors written so far

    @property
    def oldest(self):
        """Index of the oldest sample still held."""
        return self.head - self.capacity if self.head > self.capacity else 0

    def holds(self, first, n):
        """True if samples ``first .. first+n-1`` are all still in the ring."""
        return first >= self.oldest and first + n <= self.head and n >= 0

    def value_pos(self, index):
        """Position in ``values`` of the first value of sample ``index``."""
        return (index % self.capacity) * self.width

    def write(self, src_bytes, n):
        """Append ``n`` samples from the byte buffer ``src_bytes`` (2 bytes per value)."""
        nbytes = 2 * self.width * n
        total = 2 * self.width * self.capacity
        pos = 2 * self.value_pos(self.head)
        first = total - pos
        if nbytes <= first:
            self.bytes[pos:pos + nbytes] = src_bytes[:nbytes]
        else:
            self.bytes[pos:total] = src_bytes[:first]
            self.bytes[0:nbytes - first] = src_bytes[first:nbytes]
        self.head += n

    def skip(self, n, fill):
        """Append ``n`` samples of ``fill`` values (marks samples lost to an overrun)."""
        if n > self.capacity:
            self.head += n - self.capacity  # only the newest capacity of them is held anyway
            n = self.capacity
        v = self.values
        pos = self.value_pos(self.head)
        end = self.capacity * self.width
        for _ in range(n * self.width):
            v[pos] = fill
            pos += 1
            if pos == end:
                pos = 0
        self.head += n

    def read_into(self, dst, first, n):
        """Copy samples ``first .. first+n-1`` into the byte buffer ``dst``; return bytes.

        The caller checks ``holds(first, n)`` first.
        """
        nbytes = 2 * self.width * n
        total = 2 * self.width * self.capacity
        pos = 2 * self.value_pos(first)
        part = total - pos
        if nbytes <= part:
            dst[:nbytes] = self.bytes[pos:pos + nbytes]
        else:
            dst[:part] = self.bytes[pos:total]
            dst[part:nbytes] = self.bytes[0:nbytes - part]
        return nbytes

    def any_bits(self, first, n, mask):
        """True if any value of samples ``first .. first+n-1`` has a bit of ``mask`` set."""
        v = self.values
        pos = self.value_pos(first)
        end = self.capacity * self.width
        for _ in range(n * self.width):
            if v[pos] & mask:
                return True
            pos += 1
            if pos == end:
                pos = 0
        return False

    def mark_time(self, index, t_us):
        """Record that sample ``index`` was taken at device time ``t_us`` (ticks_us)."""
        slot = self._anchors % self._n_anchor_slots
        self._anchor_index[slot] = index
        self._anchor_t[slot] = t_us
        self._anchors += 1

    def time_of(self, index):
        """Device time (ticks_us, mod 2**30) of sample ``index``, from the nearest anchor.

        Uses the newest anchor at or before ``index`` (or the oldest anchor kept, if all
        are later) and the nominal rate. Returns 0 if no anchor was recorded yet.
        """
        n = self._anchors
        if n == 0:
            return 0
        slots = self._n_anchor_slots
        k = n - 1
        stop = n - slots if n > slots else 0
        while k > stop and self._anchor_index[k % slots] > index:
            k -= 1
        slot = k % slots
        d = index - self._anchor_index[slot]
        # Exact floor(d * 1e6 / fs) computed in pieces that stay below 2**30, so the MCU
        # never allocates a big int here.
        fs = self.fs_hz
        whole_s, rest = divmod(d, fs)
        q, r = divmod(rest * 1000, fs)
        dt_us = whole_s * 1_000_000 + q * 1000 + (r * 1000) // fs
        return (self._anchor_t[slot] + dt_us) & _TICKS_MASK

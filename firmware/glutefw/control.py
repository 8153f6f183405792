"""Commands from the host (PROTOCOL.md): parsing and validation, never raising.

``parse`` fills a reusable ``Command`` and returns a RESPONSE code; checks that need
the stream state (RESEND) are in ``check_resend``. Each error code has one place here.
"""
import struct

from micropython import const

START = const(0x01)
STOP = const(0x02)
MARK = const(0x03)
PING = const(0x04)
RESEND = const(0x05)
GET_INFO = const(0x06)
GET_STATUS = const(0x07)

OK = const(0)
UNKNOWN_OPCODE = const(1)
BAD_LENGTH = const(2)
BAD_RATE = const(3)
BAD_CHANNELS = const(4)
BAD_STATE = const(5)
OUT_OF_WINDOW = const(6)
BUSY = const(7)

STREAM_EMG = const(0)
STREAM_IMU = const(1)

# Payload length (after opcode and token) per opcode, indexed by opcode.
_PAYLOAD_LEN = (-1, 5, 0, 2, 4, 7, 0, 0)


class Command:
    """One parsed command; reused for every command so parsing allocates nothing."""

    def __init__(self):
        self.opcode = 0
        self.token = 0
        self.emg_fs_hz = 0  # START
        self.channel_mask = 0  # START
        self.imu_fs_hz = 0  # START
        self.mark_code = 0  # MARK
        self.host_time = 0  # PING
        self.stream = 0  # RESEND: STREAM_EMG or STREAM_IMU
        self.first_sample = 0  # RESEND
        self.n_samples = 0  # RESEND


def _count_bits(x):
    n = 0
    while x:
        n += x & 1
        x >>= 1
    return n


def parse(data, n, cmd, emg_rates_hz, imu_rates_hz, adc_available_mask, max_channels):
    """Parse ``data[:n]`` into ``cmd``; return OK or the error code for the RESPONSE.

    ``cmd.opcode`` and ``cmd.token`` are set whenever the bytes hold them (0 otherwise),
    so even a refused command can be answered with its own opcode and token.
    """
    cmd.opcode = data[0] if n > 0 else 0
    cmd.token = data[1] if n > 1 else 0
    op = cmd.opcode
    if op < 1 or op >= len(_PAYLOAD_LEN):
        return UNKNOWN_OPCODE
    if n - 2 != _PAYLOAD_LEN[op]:
        return BAD_LENGTH
    if op == START:
        cmd.emg_fs_hz, cmd.channel_mask, cmd.imu_fs_hz = struct.unpack_from("<HBH", data, 2)
        if cmd.emg_fs_hz not in emg_rates_hz or cmd.imu_fs_hz not in imu_rates_hz:
            return BAD_RATE
        mask = cmd.channel_mask
        if mask == 0 or mask & ~adc_available_mask or _count_bits(mask) > max_channels:
            return BAD_CHANNELS
    elif op == MARK:
        cmd.mark_code = data[2] | (data[3] << 8)
    elif op == PING:
        cmd.host_time = struct.unpack_from("<I", data, 2)[0]
    elif op == RESEND:
        cmd.stream, cmd.first_sample, cmd.n_samples = struct.unpack_from("<BIH", data, 2)
        if cmd.stream != STREAM_EMG and cmd.stream != STREAM_IMU:
            return BAD_CHANNELS  # names a stream the wearable does not have
    return OK


def check_resend(cmd, ever_started, busy, oldest, head):
    """Validate a parsed RESEND against the ring holding ``oldest .. head-1``.

    A range whose start was overwritten is accepted while its end is still held: the
    sender resends from the oldest sample it holds (PROTOCOL.md, "Commands").
    """
    if not ever_started:
        return BAD_STATE
    if busy:
        return BUSY
    end = cmd.first_sample + cmd.n_samples
    if end > head:
        return OUT_OF_WINDOW  # not sampled yet
    if (end <= oldest) if cmd.n_samples else (cmd.first_sample < oldest):
        return OUT_OF_WINDOW  # every sample of it was overwritten
    return OK

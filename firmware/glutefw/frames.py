"""Wire format v1 (firmware/PROTOCOL.md): packs frames into one preallocated buffer.

Pure: no hardware imports, so host tests run this very packer against the golden
vectors in tests/vectors/protocol_v1.json. Packing writes into ``FramePacker.buf`` with
``struct.pack_into`` and returns a memoryview of the frame; the view is valid until the
next frame is packed. EMG and IMU samples are copied in by the caller through
``samples_view()`` (byte slices from the ring), so the hot path allocates nothing.
"""
import struct
from binascii import crc32

from micropython import const

VERSION = const(1)

EMG = const(0x01)
IMU = const(0x02)
STATUS = const(0x03)
RESPONSE = const(0x04)
EVENT = const(0x05)
INFO = const(0x06)

FLAG_BACKFILL = const(0x01)
FLAG_ADC_ERROR = const(0x02)
ADC_ERROR_BIT = const(0x8000)  # bit 15 of an EMG sample: the ADC's conversion error

HEADER_LEN = const(12)
CRC_LEN = const(4)
OVERHEAD = const(16)
EMG_PAYLOAD_HEADER = const(8)
IMU_PAYLOAD_HEADER = const(8)
IMU_SAMPLE_BYTES = const(12)
SAMPLES_AT = const(20)  # HEADER_LEN + 8: where EMG/IMU samples start in the frame
INFO_FIXED_LEN = const(27)

_HEADER = "<BBHII"
_EMG_HEAD = "<IBBBB"
_IMU_HEAD = "<IBBH"
_STATUS = "<HBBIIIIIIIIIII"
STATUS_PAYLOAD = const(48)
_RESPONSE = "<BBBB"
_PING_EXTRA = "<II"
_EVENT = "<HHI"
_INFO = "<BBBBBBHHHfffHB"
_U32 = const(0xFFFFFFFF)
_TICKS_MASK = const((1 << 30) - 1)


def emg_samples_per_frame(payload_max, n_channels):
    """Most EMG samples per channel that fit a frame of ``payload_max`` bytes (<= 255)."""
    n = (payload_max - OVERHEAD - EMG_PAYLOAD_HEADER) // (2 * n_channels)
    return n if n < 255 else 255


def imu_samples_per_frame(payload_max):
    """Most IMU samples that fit a frame of ``payload_max`` bytes (<= 255)."""
    n = (payload_max - OVERHEAD - IMU_PAYLOAD_HEADER) // IMU_SAMPLE_BYTES
    return n if n < 255 else 255


def info_payload(fw_version, adc_available_mask, channel_mask, emg_fs_hz, imu_fs_hz,
                 vref_mV, emg_gain, acc_g_per_lsb, gyro_dps_per_lsb, backfill_window_ms,
                 name):
    """The INFO payload as bytes (built rarely, so it may allocate)."""
    name_b = name.encode("utf-8")
    if len(name_b) > 255:
        raise ValueError("device name is %d bytes in UTF-8, at most 255" % len(name_b))
    head = struct.pack(_INFO, VERSION, fw_version[0], fw_version[1], fw_version[2],
                       adc_available_mask, channel_mask, emg_fs_hz, imu_fs_hz, vref_mV,
                       emg_gain, acc_g_per_lsb, gyro_dps_per_lsb,
                       min(backfill_window_ms, 0xFFFF), len(name_b))
    return head + name_b


class FramePacker:
    """Packs frames of every type into one buffer and numbers them.

    Parameters
    ----------
    max_frame : int
        Size of the buffer in bytes: the largest frame any link carries (USB: 1024).
    seq : int
        Sequence number of the next frame (0 at boot).
    """

    def __init__(self, max_frame=1024, seq=0):
        self.buf = bytearray(max_frame)
        self.mv = memoryview(self.buf)
        self.seq = seq

    def _finish(self, ftype, payload_len, t_device_us):
        n = HEADER_LEN + payload_len
        struct.pack_into(_HEADER, self.buf, 0, VERSION, ftype, payload_len, self.seq,
                         t_device_us & _TICKS_MASK)
        struct.pack_into("<I", self.buf, n, crc32(self.mv[:n]) & _U32)
        self.seq = (self.seq + 1) & _U32
        return self.mv[:n + CRC_LEN]

    def samples_view(self):
        """Writable byte view where EMG/IMU samples go, before ``finish_emg/imu``."""
        return self.mv[SAMPLES_AT:]

    def finish_emg(self, t_device_us, first_sample, n_channels, n_samples, channel_mask,
                   flags):
        """Complete an EMG frame whose samples are already in ``samples_view()``."""
        struct.pack_into(_EMG_HEAD, self.buf, HEADER_LEN, first_sample & _U32, n_channels,
                         n_samples, channel_mask, flags)
        return self._finish(EMG, EMG_PAYLOAD_HEADER + 2 * n_channels * n_samples,
                            t_device_us)

    def pack_emg(self, t_device_us, first_sample, n_channels, n_samples, channel_mask,
                 flags, samples):
        """Pack an EMG frame from ``samples``: a byte buffer of u16 LE codes, sample-major."""
        nbytes = 2 * n_channels * n_samples
        self.mv[SAMPLES_AT:SAMPLES_AT + nbytes] = samples[:nbytes]
        return self.finish_emg(t_device_us, first_sample, n_channels, n_samples,
                               channel_mask, flags)

    def finish_imu(self, t_device_us, first_sample, n_samples, flags):
        """Complete an IMU frame whose samples are already in ``samples_view()``."""
        struct.pack_into(_IMU_HEAD, self.buf, HEADER_LEN, first_sample & _U32, n_samples,
                         flags, 0)
        return self._finish(IMU, IMU_PAYLOAD_HEADER + IMU_SAMPLE_BYTES * n_samples,
                            t_device_us)

    def pack_imu(self, t_device_us, first_sample, n_samples, flags, samples):
        """Pack an IMU frame from ``samples``: bytes of i16 LE ax ay az gx gy gz per sample."""
        nbytes = IMU_SAMPLE_BYTES * n_samples
        self.mv[SAMPLES_AT:SAMPLES_AT + nbytes] = samples[:nbytes]
        return self.finish_imu(t_device_us, first_sample, n_samples, flags)

    def pack_status(self, t_device_us, battery_mV, battery_pct, state, emg_overruns,
                    saturated_samples, notify_backoffs, ring_drops, free_heap_bytes,
                    heap_waits=0, notify_memory_errors=0, commands_refused=0,
                    commands_lost=0, battery_age_ms=_U32, free_heap_min_bytes=0):
        """Pack a STATUS frame; counters are reported modulo 2**32.

        ``battery_age_ms`` is how long ago the battery was measured (``2**32 - 1``:
        never); an older figure saturates at ``2**32 - 2``.
        """
        if battery_age_ms > _U32 - 1 and battery_age_ms != _U32:
            battery_age_ms = _U32 - 1
        struct.pack_into(_STATUS, self.buf, HEADER_LEN, battery_mV, battery_pct, state,
                         emg_overruns & _U32, saturated_samples & _U32,
                         notify_backoffs & _U32, ring_drops & _U32, free_heap_bytes & _U32,
                         heap_waits & _U32, notify_memory_errors & _U32,
                         commands_refused & _U32, commands_lost & _U32, battery_age_ms,
                         free_heap_min_bytes & _U32)
        return self._finish(STATUS, STATUS_PAYLOAD, t_device_us)

    def pack_response(self, t_device_us, opcode, token, code):
        """Pack a RESPONSE (ack when ``code`` is 0, error otherwise) without extra data."""
        struct.pack_into(_RESPONSE, self.buf, HEADER_LEN, opcode, token, code, 0)
        return self._finish(RESPONSE, 4, t_device_us)

    def pack_ping_response(self, t_device_us, opcode, token, host_time, device_time_us):
        """Pack the OK RESPONSE to PING: echoes ``host_time`` with the device time."""
        struct.pack_into(_RESPONSE, self.buf, HEADER_LEN, opcode, token, 0, 0)
        struct.pack_into(_PING_EXTRA, self.buf, HEADER_LEN + 4, host_time & _U32,
                         device_time_us & _TICKS_MASK)
        return self._finish(RESPONSE, 12, t_device_us)

    def pack_event(self, t_device_us, code, emg_sample):
        """Pack an EVENT (marker) frame."""
        struct.pack_into(_EVENT, self.buf, HEADER_LEN, code, 0, emg_sample & _U32)
        return self._finish(EVENT, 8, t_device_us)

    def pack_info(self, t_device_us, payload):
        """Pack an INFO frame around ``payload`` from ``info_payload``."""
        n = len(payload)
        self.mv[HEADER_LEN:HEADER_LEN + n] = payload
        return self._finish(INFO, n, t_device_us)


def standalone_info_frame(payload, t_device_us=0):
    """An INFO frame as new bytes for the GATT info characteristic (seq 0, not counted)."""
    p = FramePacker(OVERHEAD + len(payload))
    return bytes(p.pack_info(t_device_us, payload))

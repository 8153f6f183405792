"""The wearable's application: every job an ``async def ..._task()``, gathered in ``main``.

Sampling keeps filling the RAM rings while no central is connected, so after a short
disconnect the host asks for the gap with RESEND. Frames go to the BLE central when one
is connected, else to USB serial (bench mode, on the board only).
"""
import asyncio
import gc
import sys
import time

import machine
from micropython import const

from glutefw import config, control, frames, settings
from glutefw.acquisition import EmgAcquisition, count_bits
from glutefw.cmdqueue import REFUSED, CommandQueue
from glutefw.flow import LinkFlow
from glutefw.imu import Lsm6dsox
from glutefw.ringbuf import Ring

_IDLE = const(0)
_STREAMING = const(1)
_BATTERY_UNKNOWN = const(255)
_BATTERY_EMPTY_MV = const(3300)  # LiPo, loaded
_BATTERY_FULL_MV = const(4200)
_IMU_FRAME_MAX_MS = const(50)
_NO_RESEND = const(-1)

wearable = None  # the running Wearable, for inspection on the REPL and in tests


class Wearable:
    """State and jobs of the wearable; ``main`` builds one and gathers its tasks."""

    def __init__(self, name, ble=None, usb=None):
        self.name = name
        self.settings = settings.load()  # the front end's gain, from the board's filesystem
        self.ble = ble
        self.usb = usb
        self.commands = CommandQueue()
        self.emg_ring = Ring("H", config.EMG_RING_VALUES, config.TIME_ANCHORS)
        self.imu_ring = Ring("h", config.IMU_RING_SAMPLES * 6, config.TIME_ANCHORS // 4)
        self.acq = EmgAcquisition(self.emg_ring)
        i2c = machine.I2C(config.I2C_ID, scl=machine.Pin(config.I2C_SCL_GPIO),
                          sda=machine.Pin(config.I2C_SDA_GPIO), freq=config.I2C_FREQ_HZ)
        self.imu = Lsm6dsox(i2c, self.imu_ring)
        self.imu_present = self.imu.probe()
        self._wake = asyncio.ThreadSafeFlag()  # new samples or a resend to serve
        self.acq.data_ready = self._wake
        self.imu.data_ready = self._wake
        self.packer = frames.FramePacker(config.USB_FRAME_MAX)
        self._lock = asyncio.Lock()  # one frame in the packer's buffer at a time
        self._cmd = control.Command()
        self.streaming = False
        self.ever_started = False
        self.emg_fs_hz = config.DEFAULT_EMG_FS_HZ
        self.channel_mask = 0
        self.imu_fs_hz = 0
        self.emg_next = 0  # next EMG index to send live
        self.imu_next = 0
        self._link_up = False
        self._flow_link = None  # the link whose flow was last rebased
        self.ring_drops = 0
        self.oversize_drops = 0  # frames too long for the link (before the MTU exchange)
        self._resend_stream = _NO_RESEND
        self._resend_next = 0
        self._resend_end = 0
        self._backfill_wait_ms = 0  # budget the next backfill frame waits for
        self.ble_flow = LinkFlow(config.BLE_LINK_BYTES_PER_S, config.BLE_LINK_BURST_BYTES,
                                 config.HEAP_FLOOR_BYTES, config.BLE_QUEUE_MAX_BYTES)
        # USB copies nothing to the heap, but shares it with btstack's queue.
        self.usb_flow = LinkFlow(config.USB_LINK_BYTES_PER_S, config.USB_LINK_BURST_BYTES,
                                 config.HEAP_FLOOR_BYTES, 0)
        self.battery_mV = 0
        self.battery_pct = _BATTERY_UNKNOWN
        self._battery_t_ms = -1  # ticks_ms of the last reading; -1: never read

    # -- links ---------------------------------------------------------------------------
    def link(self):
        """The BLE central when connected, else USB (or None)."""
        if self.ble is not None and self.ble.connected:
            return self.ble
        return self.usb

    def _flow(self, link):
        return self.ble_flow if link is self.ble else self.usb_flow

    async def _send(self, link, frame):
        """Send one frame within the link's budget, then let the sampling tasks run."""
        if len(frame) > link.payload_max:
            # Not sent, so not numbered: hand the sequence number back (it was the last).
            self.packer.seq = (self.packer.seq - 1) & 0xFFFFFFFF
            self.oversize_drops += 1
            return False
        await self._flow(link).admit(len(frame))
        ok = await link.send(frame)
        # btstack's notify returns at once: without this a RESEND window would go out
        # back to back while acquisition and IMU tasks miss their deadlines.
        await asyncio.sleep_ms(0)
        return ok

    # -- info, status --------------------------------------------------------------------
    def info_payload(self):
        imu_fs = 0
        if self.imu_present:
            imu_fs = self.imu_fs_hz if self.streaming else config.DEFAULT_IMU_FS_HZ
        window_ms = config.BACKFILL_WINDOW_MS
        if self.streaming:
            window_ms = self.emg_ring.capacity * 1000 // self.emg_fs_hz
            if self.imu_fs_hz:
                window_ms = min(window_ms, self.imu_ring.capacity * 1000 // self.imu_fs_hz)
        return frames.info_payload(
            config.FW_VERSION, config.ADC_AVAILABLE_MASK,
            self.channel_mask if self.streaming else 0, self.emg_fs_hz, imu_fs,
            config.VREF_MV, self.settings["emg_gain"], config.ACC_G_PER_LSB, config.GYRO_DPS_PER_LSB,
            window_ms, self.name)

    def read_battery(self):
        """Measure VSYS, only while the ADC is idle.

        GPIO29 cannot join the EMG round robin (on the Pico 2 W it is also the radio's
        SPI clock), and a one-shot conversion cannot be slipped in while the ADC free-runs
        into the DMA FIFO without shifting the channel order. So the battery is measured
        between sessions: at boot, once a second while idle, just before START and just
        after STOP. While streaming the last figure stands, and STATUS says its age
        (``battery_age_ms``).
        """
        if self.acq.running:
            return
        try:
            raw = machine.ADC(machine.Pin(config.VSYS_GPIO)).read_u16()
        except (OSError, ValueError, RuntimeError):
            return
        mv = raw * config.VREF_MV * config.VSYS_DIVIDER // 65535
        self._battery_t_ms = time.ticks_ms()
        self.battery_mV = mv
        pct = (mv - _BATTERY_EMPTY_MV) * 100 // (_BATTERY_FULL_MV - _BATTERY_EMPTY_MV)
        self.battery_pct = 0 if pct < 0 else (100 if pct > 100 else pct)

    def battery_age_ms(self):
        """Milliseconds since the battery was measured (``0xFFFFFFFF``: never)."""
        if self._battery_t_ms < 0:
            return 0xFFFFFFFF
        return time.ticks_diff(time.ticks_ms(), self._battery_t_ms)

    async def _send_status(self, link):
        enomem = memory_errors = 0
        if self.ble is not None:
            enomem, memory_errors = self.ble.notify_backoffs, self.ble.notify_memory_errors
        heap_waits = self.ble_flow.heap_waits + self.usb_flow.heap_waits
        heap_min = self.ble_flow.free_heap_min_bytes
        if self.usb_flow.free_heap_min_bytes < heap_min:
            heap_min = self.usb_flow.free_heap_min_bytes
        frame = self.packer.pack_status(
            time.ticks_us(), self.battery_mV, self.battery_pct,
            _STREAMING if self.streaming else _IDLE, self.acq.overruns + self.imu.fifo_overruns,
            self.acq.saturated, enomem + memory_errors + heap_waits, self.ring_drops,
            gc.mem_free(), heap_waits, memory_errors, self.commands.refused,
            self.commands.lost, self.battery_age_ms(), heap_min)
        await self._send(link, frame)

    # -- data frames ---------------------------------------------------------------------
    def _emg_max(self, link, live):
        n = frames.emg_samples_per_frame(link.payload_max, self.emg_ring.width)
        if live:
            cap = self.emg_fs_hz * config.EMG_FRAME_MAX_MS // 1000
            n = n if n < cap else cap
        return n

    def _imu_max(self, link, live):
        n = frames.imu_samples_per_frame(link.payload_max)
        if live:
            cap = self.imu_fs_hz * _IMU_FRAME_MAX_MS // 1000
            n = n if n < cap else cap
        return n

    async def _emg_frame(self, link, first, n, flags):
        ring = self.emg_ring
        p = self.packer
        ring.read_into(p.samples_view(), first, n)
        if ring.any_bits(first, n, frames.ADC_ERROR_BIT):
            flags |= frames.FLAG_ADC_ERROR
        frame = p.finish_emg(ring.time_of(first), first, ring.width, n, self.channel_mask, flags)
        return await self._send(link, frame)

    async def _imu_frame(self, link, first, n, flags):
        ring = self.imu_ring
        p = self.packer
        ring.read_into(p.samples_view(), first, n)
        return await self._send(link, p.finish_imu(ring.time_of(first), first, n, flags))

    async def _send_live(self, link, flush):
        """Send at most one EMG and one IMU frame of new samples; True if any was sent."""
        sent = False
        ring = self.emg_ring
        if self.emg_next < ring.oldest:  # the link fell behind the ring
            self.ring_drops += ring.oldest - self.emg_next
            self.emg_next = ring.oldest
        n_max = self._emg_max(link, True)
        avail = ring.head - self.emg_next
        if n_max > 0 and avail > 0 and (avail >= n_max or flush):
            n = avail if avail < n_max else n_max
            await self._emg_frame(link, self.emg_next, n, 0)
            self.emg_next += n
            sent = True
        ring = self.imu_ring
        if self.imu_next < ring.oldest:
            self.imu_next = ring.oldest
        n_max = self._imu_max(link, True)
        avail = ring.head - self.imu_next
        if self.imu_fs_hz and n_max > 0 and avail > 0 and (avail >= n_max or flush):
            n = avail if avail < n_max else n_max
            await self._imu_frame(link, self.imu_next, n, 0)
            self.imu_next += n
            sent = True
        return sent

    async def _send_backfill(self, link):
        """Send one BACKFILL frame of the running RESEND; True if one was sent."""
        if self._resend_stream == _NO_RESEND:
            return False
        emg = self._resend_stream == control.STREAM_EMG
        ring = self.emg_ring if emg else self.imu_ring
        n_max = self._emg_max(link, False) if emg else self._imu_max(link, False)
        if self._resend_next < ring.oldest:
            # The ring overtook the resend: those samples are gone. Go on with what is
            # still held, so the range still ends with its last sample and the host,
            # which places blocks by index, sees exactly which ones are missing.
            self._resend_next = ring.oldest
        left = self._resend_end - self._resend_next
        n = left if left < n_max else n_max
        if n <= 0 or not ring.holds(self._resend_next, n):
            self._resend_stream = _NO_RESEND  # done, or even its end was overwritten meanwhile
            return False
        # Backfill spends only what live frames and answers leave: keep one frame's budget.
        flow = self._flow(link)
        if not flow.spare(link.payload_max, link.payload_max):
            self._backfill_wait_ms = flow.ms_until(2 * link.payload_max)
            return False
        if emg:
            await self._emg_frame(link, self._resend_next, n, frames.FLAG_BACKFILL)
        else:
            await self._imu_frame(link, self._resend_next, n, frames.FLAG_BACKFILL)
        self._resend_next += n
        if self._resend_next >= self._resend_end:
            self._resend_stream = _NO_RESEND
        return True

    def _on_link_up(self):
        # Live data resumes from now; what was sampled meanwhile is in RAM for RESEND,
        # and what already fell out of the ring is lost.
        ring = self.emg_ring
        if self.emg_next < ring.oldest:
            self.ring_drops += ring.oldest - self.emg_next
        self.emg_next = ring.head
        self.imu_next = self.imu_ring.head

    async def sender_task(self):
        """Stream live frames, interleaving backfill frames, whenever a link is up."""
        while True:
            link = self.link()
            sent = False
            if link is not None:
                if not self._link_up:
                    self._link_up = True
                    self._on_link_up()
                if link is not self._flow_link:  # (re)connected: the stack's queue is empty
                    self._flow_link = link
                    self._flow(link).rebase()
                async with self._lock:
                    if self.streaming:
                        sent = await self._send_live(link, False)
                    sent = await self._send_backfill(link) or sent
            else:
                self._link_up = False
                self._flow_link = None
            if not sent:
                if link is not None and self._resend_stream != _NO_RESEND:
                    await asyncio.sleep_ms(self._backfill_wait_ms)  # budget for backfill
                else:
                    await self._wake.wait()

    async def status_task(self):
        """Once a second: battery, STATUS frame, battery characteristic."""
        last_pct = -1
        while True:
            await asyncio.sleep_ms(1000)
            self.read_battery()
            link = self.link()
            if link is not None:
                async with self._lock:
                    await self._send_status(link)
            if self.ble is not None and self.battery_pct != last_pct \
                    and self.battery_pct != _BATTERY_UNKNOWN:
                last_pct = self.battery_pct
                self.ble.set_battery(self.battery_pct)

    # -- commands ------------------------------------------------------------------------
    async def control_task(self):
        """Answer every command with exactly one RESPONSE."""
        while True:
            buf, n = await self.commands.get()
            async with self._lock:
                if n == REFUSED:  # arrived while the queue was full: the host retries
                    await self._refuse(buf[0], buf[1])
                else:
                    await self.handle(buf, n)
            self._wake.set()

    async def _refuse(self, op, token):
        link = self.link()
        if link is not None:
            await self._send(link, self.packer.pack_response(time.ticks_us(), op, token,
                                                             control.BUSY))

    async def handle(self, buf, n):
        """Execute one command (the caller holds the packer lock)."""
        cmd = self._cmd
        code = control.parse(buf, n, cmd, config.EMG_RATES_HZ, config.IMU_RATES_HZ,
                             config.ADC_AVAILABLE_MASK, config.MAX_EMG_CHANNELS)
        op = cmd.opcode
        link = self.link()
        if code == control.OK:
            if op == control.START:
                code = self._start(cmd)
            elif op == control.STOP:
                await self._stop(link)
            elif op == control.MARK and link is not None:
                await self._send(link, self.packer.pack_event(
                    time.ticks_us(), cmd.mark_code, self.emg_ring.head))
            elif op == control.PING and link is not None:
                t = time.ticks_us()
                await self._send(link, self.packer.pack_ping_response(
                    t, op, cmd.token, cmd.host_time, t))
                return
            elif op == control.RESEND:
                code = self._resend(cmd)
            elif op == control.GET_INFO and link is not None:
                await self._send(link, self.packer.pack_info(time.ticks_us(), self.info_payload()))
            elif op == control.GET_STATUS and link is not None:
                await self._send_status(link)
        if link is not None:
            await self._send(link, self.packer.pack_response(time.ticks_us(), op, cmd.token, code))
        if op == control.START and code == control.OK and link is not None:
            self.emg_next = self.imu_next = 0  # the first data frame follows the RESPONSE
            self._link_up = True

    def _start(self, cmd):
        if cmd.imu_fs_hz and not self.imu_present:
            return control.BAD_RATE  # no IMU: only 0 is supported
        self.acq.stop()
        self.imu.stop()
        self.read_battery()  # the ADC is idle now
        self.emg_fs_hz = cmd.emg_fs_hz
        self.channel_mask = cmd.channel_mask
        self.imu_fs_hz = cmd.imu_fs_hz
        self._resend_stream = _NO_RESEND
        self.acq.start(cmd.emg_fs_hz, cmd.channel_mask)
        if cmd.imu_fs_hz:
            self.imu.start(cmd.imu_fs_hz)
        else:
            self.imu_ring.reset(6, 1)
        self.emg_next = self.imu_next = 0
        self.streaming = True
        self.ever_started = True
        self._update_info()
        return control.OK

    async def _stop(self, link):
        if not self.streaming:
            return
        self.acq.stop()
        self.imu.stop()
        self.streaming = False
        self.read_battery()  # the ADC is idle again: a fresh figure for the session's end
        if link is not None:  # the tail of the stream goes before the RESPONSE
            while await self._send_live(link, True):
                pass
        self._update_info()

    def _resend(self, cmd):
        emg = cmd.stream == control.STREAM_EMG
        ring = self.emg_ring if emg else self.imu_ring
        code = control.check_resend(cmd, self.ever_started, self._resend_stream != _NO_RESEND,
                                    ring.oldest, ring.head)
        if code == control.OK and cmd.n_samples:
            self._resend_stream = cmd.stream
            self._resend_next = cmd.first_sample
            self._resend_end = cmd.first_sample + cmd.n_samples
        return code

    def _update_info(self):
        if self.ble is not None:
            self.ble.set_info(frames.standalone_info_frame(self.info_payload()))

    def shutdown(self):
        self.acq.close()
        self.imu.stop()
        if self.ble is not None:
            self.ble.stop()


def default_name():
    uid = machine.unique_id()
    return "%s-%02X%02X" % (config.NAME_PREFIX, uid[-2], uid[-1])


def _ble_peripheral(commands):
    """The GATT server, or None on a board (or host) without the ``bluetooth`` module."""
    try:
        import bluetooth
        from glutefw.ble import BlePeripheral
    except ImportError:
        return None
    return BlePeripheral(bluetooth.BLE(), None, commands)


def _usb_link(commands):
    from glutefw.usb import UsbLink
    import micropython

    # Command bytes may contain 0x03; on the REPL's stdin that would be Ctrl-C. The link
    # itself takes a 0x03 outside any command as Ctrl-C (glutefw/recovery.py).
    micropython.kbd_intr(-1)
    return UsbLink(sys.stdout.buffer, asyncio.StreamReader(sys.stdin.buffer), commands)


async def main(usb=None, use_ble=True):
    """Run the wearable until cancelled.

    Parameters
    ----------
    usb : UsbLink or None
        Bench link; ``None`` makes one on stdin/stdout on the board and none elsewhere.
    use_ble : bool
        Advertise and serve a central if the ``bluetooth`` module exists.
    """
    global wearable
    w = Wearable(default_name())
    if use_ble:
        w.ble = _ble_peripheral(w.commands)
        if w.ble is not None:
            w.name = w.ble.name
    if usb is None and sys.implementation.name == "micropython":
        usb = _usb_link(w.commands)
    if usb is not None:
        usb.commands = w.commands
    w.usb = usb
    wearable = w
    w.read_battery()
    if w.ble is not None:
        fw = "%d.%d.%d" % config.FW_VERSION
        w.ble.start(frames.standalone_info_frame(w.info_payload()), config.MANUFACTURER,
                    config.MODEL, fw)
        if w.battery_pct != _BATTERY_UNKNOWN:
            w.ble.set_battery(w.battery_pct)  # advertised from the first scan on
    jobs = [w.acq.acquisition_task(), w.imu.imu_task(), w.control_task(), w.sender_task(),
            w.status_task()]
    if usb is not None:
        jobs.append(usb.reader_task())
    try:
        await asyncio.gather(*jobs)
    finally:
        w.shutdown()

"""The built-in virtual wearable, reached over a real software BLE stack.

It is the BLE transport (bleak's public API) with bleak's ``backend=`` set to the
bumble backend, plus a `VirtualWearable` powered up on the same software radio: the
host code path is the one a real wearable uses.
"""
from __future__ import annotations

from typing import Optional

from glutescope.transports.ble import BleTransport


class VirtualTransport(BleTransport):
    """Start a virtual wearable and connect to it like to a real one.

    Parameters
    ----------
    exercise, seed, speed, mains_hz
        Passed to `glutescope.virtual.wearable.VirtualWearable`.
    session : BodySession, optional
        A ready body-model session instead of ``exercise``/``seed``.
    emg_fs_hz, imu_fs_hz : float
        Rates the body model is rendered at: those the host will START with.
    channels : tuple of str
        Muscles wired to ADC0, ADC1, ... (names as in `glutesignal.simulation.simulate`).
    firmware : Path, optional
        Firmware tree to run instead of the installed one (a build under test).
    imu_mount : str
        How the virtual breakout is strapped on (`glutescope.mounting`).
    drift_ppm, clock_start_us
        The virtual board's crystal error and its clock's reading at power-up
        (`glutescope.virtual.wearable.VirtualWearable`).
    """

    record_source = 4  # RecordSource.VIRTUAL

    def __init__(self, *, exercise: str = "demo", seed: int = 0, speed: float = 1.0,
                 mains_hz: float = 50.0, session=None, emg_fs_hz: float = 2000.0,
                 imu_fs_hz: float = 104.0,
                 channels: tuple[str, ...] = ("glute_max_left", "glute_max_right"),
                 firmware=None, imu_mount: str = "upright", drift_ppm: Optional[float] = None,
                 clock_start_us: int = 0) -> None:
        super().__init__(None, scan_timeout_s=5.0)
        self.description = f"virtual wearable ({exercise})"
        if session is None:
            # The body is rendered at the rates the host will ask for, so that one ADC
            # conversion round is one body-model sample.
            from glutesignal.simulation import simulate

            session = simulate(exercise, seed=seed, mains_hz=mains_hz, emg_fs_hz=emg_fs_hz,
                               imu_fs_hz=imu_fs_hz or 104.0, channels=tuple(channels))
        self._wearable_args = dict(session=session, exercise=exercise, seed=seed, speed=speed, mains_hz=mains_hz,
                                   firmware=firmware, imu_mount=imu_mount, clock_start_us=clock_start_us)
        if drift_ppm is not None:
            self._wearable_args["drift_ppm"] = drift_ppm
        self.wearable: Optional[object] = None

    async def connect(self) -> None:
        if self.wearable is None:
            from glutescope.virtual.wearable import VirtualWearable

            self.wearable = VirtualWearable(**self._wearable_args)
            await self.wearable.start()
            self._scanner_kwargs = {"backend": self.wearable.scanner_backend}
            self._client_kwargs = {"backend": self.wearable.client_backend}
        await super().connect()
        self.description = f"virtual wearable ({self._wearable_args['exercise']}) over software BLE"

    async def close(self) -> None:
        await super().close()
        if self.wearable is not None:
            wearable, self.wearable = self.wearable, None
            await wearable.stop()


class RemoteVirtualTransport(BleTransport):
    """A virtual wearable served by another process (`glutescope virtual`), over loopback.

    The wearable's firmware and its radio run apart from the host, as a real board does;
    this side opens only the host's controller at the relay's central port and then
    speaks BLE through bleak's public API exactly like `BleTransport`.

    Parameters
    ----------
    central_port : int
        The port `glutescope virtual` printed in its ready line.
    """

    record_source = 4  # RecordSource.VIRTUAL

    def __init__(self, central_port: int, *, scan_timeout_s: float = 5.0) -> None:
        super().__init__(None, scan_timeout_s=scan_timeout_s)
        self.central_port = central_port
        self.description = f"virtual wearable at 127.0.0.1:{central_port}"
        self._radio = None

    async def connect(self) -> None:
        from glutescope.transports.base import NoAdapter

        if self._radio is None:
            from glutescope.transports.bumble_backend import backends_for
            from glutescope.virtual.remote import RemoteRadio

            radio = RemoteRadio(central_port=self.central_port)
            try:
                await radio.open()
            except ConnectionError as exc:
                raise NoAdapter(f"{exc} (start one with `glutescope virtual`)") from exc
            self._radio = radio
            scanner, client = backends_for(radio)
            self._scanner_kwargs = {"backend": scanner}
            self._client_kwargs = {"backend": client}
        await super().connect()

    async def close(self) -> None:
        await super().close()
        if self._radio is not None:
            radio, self._radio = self._radio, None
            await radio.close()

# Local override of MicroPython's `rp2` stubs for the type check of the firmware.
# The published stubs (micropython-rp2-rpi-pico2-w-stubs 1.29) give rp2.DMA none of its
# attributes: `read`, `write`, `count`, `ctrl`, `channel` and `registers` are missing,
# although MicroPython documents them ("class DMA -- access to the RP2040's DMA
# controller", Attributes) and chained DMA needs `channel` for `chain_to`.
# Only what the firmware uses is declared; add a name here when the firmware needs it.
from array import array
from typing import Any, Callable, Optional, Union

# Anything with the buffer protocol the firmware hands to DMA.
_Buffer = Union[bytes, bytearray, memoryview, array[Any]]

# 1 while the BOOTSEL button is held, else 0 (MicroPython docs, "rp2 -- functionality
# specific to the RP2040", bootsel_button()).
def bootsel_button() -> int: ...

class DMA:
    # Address of the next bus read / write: reads give the address, writes take an
    # address or a buffer object and have immediate effect.
    @property
    def read(self) -> int: ...
    @read.setter
    def read(self, value: Union[int, _Buffer], /) -> None: ...
    @property
    def write(self) -> int: ...
    @write.setter
    def write(self, value: Union[int, _Buffer], /) -> None: ...
    # Transfers left in the current sequence; writing sets the next sequence's length.
    count: int
    # The channel's CTRL register value (see pack_ctrl / unpack_ctrl).
    ctrl: int
    # Hardware channel number, for another channel's `chain_to`.
    channel: int
    # The channel's registers, indexed by word.
    registers: Any
    def __init__(self) -> None: ...
    def config(self, *, read: Union[int, _Buffer, None] = None,
               write: Union[int, _Buffer, None] = None, count: Optional[int] = None,
               ctrl: Optional[int] = None, trigger: bool = False) -> None: ...
    def irq(self, handler: Optional[Callable[["DMA"], Any]] = None, hard: bool = False) -> Any: ...
    def close(self) -> None: ...
    def pack_ctrl(self, *, default: Optional[int] = None, enable: bool = True,
                  high_pri: bool = False, size: int = 2, inc_read: bool = True,
                  inc_write: bool = True, ring_size: int = 0, ring_sel: bool = False,
                  chain_to: Optional[int] = None, treq_sel: int = 0x3F,
                  irq_quiet: bool = True, bswap: bool = False, sniff_en: bool = False,
                  write_err: bool = False, read_err: bool = False) -> int: ...
    @staticmethod
    def unpack_ctrl(value: int, /) -> dict[str, int]: ...
    def active(self, value: Optional[Union[bool, int]] = None, /) -> bool: ...

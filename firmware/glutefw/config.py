"""Board, sensor and protocol constants of the wearable (Raspberry Pi Pico 2 W, RP2350A).

Everything that depends on the board or the front end lives here, so porting to another
board (for example an RP2350B with eight ADC inputs) means editing this file only.
"""
from micropython import const

FW_VERSION = (0, 1, 0)  # major, minor, patch; sent in INFO
PROTOCOL_VERSION = const(1)
NAME_PREFIX = "glutescope"  # advertised as glutescope-XXXX
MANUFACTURER = "glutescope"
MODEL = "glutescope wearable (Pico 2 W)"

# Supported rates (PROTOCOL.md): the EMG rate is per channel.
EMG_RATES_HZ = (500, 1000, 1500, 2000)
IMU_RATES_HZ = (0, 104, 208)  # LSM6DSOX output data rates; 0 = IMU off
DEFAULT_EMG_FS_HZ = const(2000)
DEFAULT_IMU_FS_HZ = const(104)
MAX_EMG_CHANNELS = const(4)

# ADC inputs: ADC i is on GPIO 26 + i on the RP2350A. On the Pico 2 W, GPIO29 / ADC3 is
# shared with the radio's SPI clock and the VSYS monitor, so only ADC0-2 are free for EMG.
ADC_GPIO_BASE = const(26)
ADC_AVAILABLE_MASK = const(0b111)
VSYS_GPIO = const(29)
VSYS_DIVIDER = const(3)  # VSYS is seen through a 200k/100k divider on the Pico boards
VREF_MV = const(3300)
ADC_CLOCK_HZ = const(48_000_000)  # clk_adc from the 48 MHz USB PLL

# Analog front end gain (MyoWare 2.0 / BioAmp EXG Pill class), V/V from electrodes to pin.
EMG_GAIN = 1000.0

# The acquisition task moves EMG from the DMA ring into the RAM ring every this many
# milliseconds: short for low latency; the DMA itself needs no CPU, so a late poll only
# matters once it is later than the whole DMA ring (EMG_DMA_RING_BITS).
EMG_BLOCK_MS = const(10)
# The DMA writes EMG codes round a ring of 2**EMG_DMA_RING_BITS bytes (its write address
# wraps there, RP2350 CTRL.RING_SIZE, 1..15): 13 -> 8 KiB -> 4096 codes, 0.68 s at
# 3 channels x 2 kHz, far longer than any GC pause or BLE burst. The buffer holding it is
# twice that, so an aligned ring always fits inside (16 KiB of RAM).
EMG_DMA_RING_BITS = const(13)
# Frames carry at most this much signal so the live view stays responsive.
EMG_FRAME_MAX_MS = const(20)

# RAM ring for RESEND: 4 s of 3 channels at 2 kHz (48 kB of u16 codes).
BACKFILL_WINDOW_MS = const(4000)
EMG_RING_VALUES = const(24_000)
IMU_RING_SAMPLES = const(832)  # 4 s at 208 Hz
TIME_ANCHORS = const(512)  # (index, device time) pairs kept per ring

# LSM6DSOX on I2C0 (GPIO4 SDA, GPIO5 SCL), SA0 low -> address 0x6A.
I2C_ID = const(0)
I2C_SDA_GPIO = const(4)
I2C_SCL_GPIO = const(5)
I2C_FREQ_HZ = const(400_000)
IMU_ADDR = const(0x6A)
# Sensitivities from the LSM6DSOX datasheet (DS12814, table 2) for the scales we set:
# +-4 g -> 0.122 mg/LSB, +-500 dps -> 17.5 mdps/LSB.
ACC_G_PER_LSB = 0.000122
GYRO_DPS_PER_LSB = 0.0175

# Flow control (glutefw.flow, firmware/README.md "Flow control"). The budget caps what the
# sender produces: live 3 ch x 2 kHz EMG + 208 Hz IMU take ~17 kB/s, and a RESEND gets the
# rest. A real link may drain less (~36.5 kB/s measured Pico 2 W to Pico 2 W with
# write-without-response, pico-sdk issue 2625): btstack then queues the excess on the heap
# (~318 B per notification) and the sender waits whenever that queue holds more than
# BLE_QUEUE_MAX_BYTES, so it runs at whatever the radio really drains.
BLE_LINK_BYTES_PER_S = const(64_000)
BLE_LINK_BURST_BYTES = const(1024)  # about four 244-byte notifications
BLE_QUEUE_MAX_BYTES = const(16_384)  # ~50 notifications: ~0.4 s of a 36 kB/s link
USB_LINK_BYTES_PER_S = const(100_000)
USB_LINK_BURST_BYTES = const(4096)
HEAP_FLOOR_BYTES = const(32_000)  # never send below this, whatever the link

USB_FRAME_MAX = const(1024)  # PROTOCOL.md: frames on USB never exceed 1024 bytes
BLE_PAYLOAD_DEFAULT = const(20)  # ATT_MTU 23 - 3 before the MTU exchange

// Bridge for building the unix port with btstack over an H4 UART.
//
// extmod/btstack/btstack_hci_uart.c includes this header and calls
// mp_bluetooth_hci_poll_now(), which ports/unix does not provide. The unix port polls
// the HCI from a thread every millisecond anyway, so there is nothing to wake early.
#ifndef MICROPY_INCLUDED_UNIX_MPBTHCIPORT_H
#define MICROPY_INCLUDED_UNIX_MPBTHCIPORT_H

static inline void mp_bluetooth_hci_poll_now(void) {
}

#endif // MICROPY_INCLUDED_UNIX_MPBTHCIPORT_H

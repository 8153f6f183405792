"""Consistent Overhead Byte Stuffing into preallocated buffers (USB serial framing).

Cheshire, S. and Baker, M. (1999). Consistent overhead byte stuffing. IEEE/ACM
Transactions on Networking 7(2), 159-172. The encoded block contains no 0x00, so a
single 0x00 delimits frames and a reader can resynchronise at the next delimiter.
"""


def max_encoded_len(n):
    """Worst-case encoded length of ``n`` bytes (one overhead byte per 254)."""
    return n + n // 254 + 1


def encode(src, n, dst):
    """Encode ``src[:n]`` into ``dst`` (no trailing delimiter); return the encoded length.

    ``dst`` must hold ``max_encoded_len(n)`` bytes; raises ValueError otherwise.
    """
    if len(dst) < max_encoded_len(n):
        raise ValueError("cobs dst holds %d bytes, need %d" % (len(dst), max_encoded_len(n)))
    code_at = 0
    out = 1
    code = 1
    for i in range(n):
        b = src[i]
        if b:
            dst[out] = b
            out += 1
            code += 1
            if code == 0xFF:
                dst[code_at] = code
                if i == n - 1:
                    return out  # a full final group needs no trailing code byte
                code_at = out
                out += 1
                code = 1
        else:
            dst[code_at] = code
            code_at = out
            out += 1
            code = 1
    dst[code_at] = code
    return out


def decode(src, n, dst):
    """Decode ``src[:n]`` (one block, without its delimiter) into ``dst``.

    Returns the decoded length, or -1 if the block is malformed (a zero byte, a code
    running past the end) or does not fit in ``dst``. Never raises on bad input.
    """
    i = 0
    out = 0
    cap = len(dst)
    while i < n:
        code = src[i]
        end = i + code
        if code == 0 or end > n or out + code - 1 > cap:
            return -1
        i += 1
        while i < end:
            b = src[i]
            if b == 0:
                return -1
            dst[out] = b
            out += 1
            i += 1
        # A group shorter than 254 data bytes stands for a zero, except at the very end.
        if code != 0xFF and i < n:
            if out >= cap:
                return -1
            dst[out] = 0
            out += 1
    return out

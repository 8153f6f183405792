"""glutesignal: the pure signal core of glutescope (numpy/scipy, no I/O)."""

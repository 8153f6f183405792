"""glutescope host: acquisition, recording, live biofeedback and exports."""

__version__ = "0.1.0"

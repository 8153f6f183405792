"""Body-model people of known truth doing a protocol (`glutescope.virtual.rehearsal`)."""
from glutescope.virtual.rehearsal import rehearse as run_protocol

__all__ = ["run_protocol"]

# Frozen into the test binary: only asyncio (the firmware's tasks); everything else the
# firmware imports is a file on MICROPYPATH.
include("$(MPY_DIR)/extmod/asyncio")

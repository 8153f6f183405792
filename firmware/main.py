"""Boot entry of the wearable: hold BOOTSEL while powering up to stay on the REPL."""
import asyncio

import rp2

if not rp2.bootsel_button():
    from glutefw import app

    asyncio.run(app.main())

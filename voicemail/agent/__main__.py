"""`python -m voicemail.agent`: run the voicemail media agent.

Settings from the environment (see README): PBX_VOICEMAIL_LISTEN (host:port, default
127.0.0.1:5070), PBX_DJANGO_INTERNAL_URL (default http://127.0.0.1:8000), PBX_ENGINE_TOKEN,
PBX_VOICEMAIL_SPOOL (default var/voicemail-spool), PBX_VOICEMAIL_MAX_SILENCE (seconds, 8),
PBX_VOICEMAIL_MEDIA_ADDRESS (the address announced for audio; default the listening host)."""

import asyncio
import logging
import os
from pathlib import Path

from voicemail.agent.backend import Backend
from voicemail.agent.call import AgentConfig
from voicemail.agent.prompts import Prompts
from voicemail.agent.server import serve

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    logging.basicConfig(
        level=os.environ.get("PBX_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    host, _, port = os.environ.get("PBX_VOICEMAIL_LISTEN", "127.0.0.1:5070").rpartition(":")
    config = AgentConfig(
        host=host,
        port=int(port),
        max_silence_seconds=float(os.environ.get("PBX_VOICEMAIL_MAX_SILENCE", "8")),
        media_address=os.environ.get("PBX_VOICEMAIL_MEDIA_ADDRESS", ""),
    )
    spool = Path(os.environ.get("PBX_VOICEMAIL_SPOOL", str(ROOT / "var" / "voicemail-spool")))
    prompts = Prompts(spool.parent / "voicemail-prompts")
    prompts.warm()

    async def run() -> None:
        backend = Backend(
            os.environ.get("PBX_DJANGO_INTERNAL_URL", "http://127.0.0.1:8000"),
            os.environ.get("PBX_ENGINE_TOKEN", "development-engine-token"),
            spool,
        )
        await backend.flush_spool()
        await serve(config=config, backend=backend, prompts=prompts)

    asyncio.run(run())


if __name__ == "__main__":
    main()

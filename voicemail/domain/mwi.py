"""RFC 3842 message-summary bodies (message waiting indication). Pure."""


def message_summary(*, account: str, new: int, old: int) -> str:
    waiting = "yes" if new else "no"
    return (
        f"Messages-Waiting: {waiting}\r\n"
        f"Message-Account: {account}\r\n"
        f"Voice-Message: {new}/{old} (0/0)\r\n"
    )

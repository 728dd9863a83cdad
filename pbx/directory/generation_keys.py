"""The cache keys of the generation counters (pbx.directory.generations), without Django: the
engine reads them too when it decides a call itself (routing.in_engine)."""


def person_key(user_id: int) -> str:
    return f"routing:gen:user:{user_id}"


def organisation_key(tenant_id: int) -> str:
    return f"routing:gen:tenant:{tenant_id}"

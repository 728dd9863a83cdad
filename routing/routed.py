"""What a route decision is about and what it came to, as plain values (no Django import):
shared by the decisions Django makes and those the engine makes itself (routing.in_engine)."""

from dataclasses import dataclass

from routing.domain.evaluation import CompiledRouting, Decision


@dataclass(frozen=True)
class Destination:
    tenant_id: int
    user_id: int
    extension: str


@dataclass(frozen=True)
class RoutedCall:
    destination: Destination
    profile: CompiledRouting
    decision: Decision

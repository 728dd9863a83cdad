"""Routing: ring plans, schedules, rules, templates, and the route decision for each call."""

"""Scheduled read-only reviews (daily compliance, weekly capacity, monthly cost), their rendering for
Slack and email, the schedule, and the runner that delivers each once per period across replicas.

Modules: ``report`` (the typed report), ``compliance``/``capacity``/``cost`` (the reviews),
``render_slack``/``render_text``, ``schedule``, ``runner`` and ``delivery``; the rest are their parts.
"""

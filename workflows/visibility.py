"""Custom search attributes: what supervisors filter and sort on in Temporal's visibility.

Never personal data: no names, ID numbers or mobiles — only ids, codes, states and instants.
"""

from typing import Any

from temporalio.common import SearchAttributeKey

STATUS = SearchAttributeKey.for_keyword("KaibanStatus")  # the application's status
DUE_AT = SearchAttributeKey.for_datetime("KaibanDueAt")
SLA_STATE = SearchAttributeKey.for_keyword("KaibanSlaState")  # on_track | at_risk | breached
WINDOW_ID = SearchAttributeKey.for_keyword("KaibanWindowId")
APPLICATION_ID = SearchAttributeKey.for_keyword("KaibanApplicationId")

ALL: list[SearchAttributeKey[Any]] = [STATUS, DUE_AT, SLA_STATE, WINDOW_ID, APPLICATION_ID]

# The open department tasks are not search attributes: they change at every step of every
# department, so they travel in the application's memo (``TASKS_MEMO``),
# written when they change (patch PER_EVENT; at most once per workflow task between LEAN and it), and the
# board filters them by department itself.
TASKS_MEMO = "tasks"  # memo key: the open department tasks, for the supervision board

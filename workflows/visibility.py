"""Custom search attributes: what supervisors filter and sort on in Temporal's visibility.

Never personal data: no names, ID numbers or mobiles — only ids, codes, states and instants.
"""

from temporalio.common import SearchAttributeKey

STATUS = SearchAttributeKey.for_keyword("KaibanStatus")  # application or task status
DUE_AT = SearchAttributeKey.for_datetime("KaibanDueAt")
SLA_STATE = SearchAttributeKey.for_keyword("KaibanSlaState")  # on_track | at_risk | breached
WINDOW_ID = SearchAttributeKey.for_keyword("KaibanWindowId")
DEPARTMENT = SearchAttributeKey.for_keyword("KaibanDepartment")
APPLICATION_ID = SearchAttributeKey.for_keyword("KaibanApplicationId")

ALL = [STATUS, DUE_AT, SLA_STATE, WINDOW_ID, DEPARTMENT, APPLICATION_ID]

"""Why a clerk's update is refused: the words of the application workflow's validators and of the API.

Pure (no temporalio): the API uses them too, once a workflow has closed and takes no update.
"""

from __future__ import annotations

from domain.status import ApplicationStatus

#: the department whose approval (the business licence) ends the applicant's right to withdraw
LICENCE = "amr"
LICENCE_APPROVED = "营业执照已核准，不能撤回申请：撤销或注销登记须另行依法办理"
#: what the clerk's updates do, in the words of their refusals
_ACTIONS = {"withdraw": "撤回", "correct": "补正", "extend_deadline": "延期", "complete_manually": "人工办结"}


def refusal_when_closed(update: str, status: ApplicationStatus | None) -> str:
    """Why the clerk's ``update`` is refused by an application that has finished: ``status`` its final
    status (None: its workflow did not finish by itself, e.g. terminated). The validators' words, and the
    API's once the workflow is closed (a closed workflow takes no update)."""
    action = _ACTIONS.get(update, "办理此操作")
    if status is ApplicationStatus.WITHDRAWN:
        return "该申请已撤回" if update == "withdraw" else f"该申请已撤回，已终止办理，不能{action}"
    if status is ApplicationStatus.COMPLETED:
        if update == "withdraw":
            return f"该申请已办结：{LICENCE_APPROVED}"
        if update in ("extend_deadline", "complete_manually"):
            return f"该申请已办结，无需{action}"
        return f"该申请已办结，不能{action}"
    return f"该申请已终止办理，不能{action}"

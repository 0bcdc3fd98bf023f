"""What an escalation says, in Chinese, to the people who must act. Pure.

Messages name the application, window and department task — never a person's name,
ID number or mobile.
"""

from __future__ import annotations

from datetime import datetime

from domain.calendar import SHANGHAI

LEVEL_LABELS = {"remind": "提醒", "warn": "预警", "breach": "超时", "re_escalate": "督办", "digest": "督办日报"}
AUDIENCE_LABELS = {
    "department_handler": "部门经办人",
    "department_supervisor": "部门负责人",
    "window_supervisor": "窗口负责人",
    "leading_group_office": "领导小组办公室",
}
_PHRASES = {
    "remind": "办理时限已过半",
    "warn": "办理时限已用去八成，即将超时",
    "breach": "已超过办理时限",
    "re_escalate": "超时后仍未办结",
    "digest": "超时后仍未办结（每个工作日提示一次）",
}
# the SLA state a step leaves its task in
LEVEL_SLA_STATE = {"warn": "at_risk", "breach": "breached", "re_escalate": "breached", "digest": "breached"}


def escalation_message(
    *, level: str, audience: str, application_id: str, window_id: str, subject: str, due_at: datetime
) -> str:
    """E.g. 【超时】申请 KB…（窗口 TY-XD-01）「税务局·新办纳税人套餐」应于 2026-11-27 11:00 前办结，已超过办理时限，请窗口负责人督促办理。"""
    due = due_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    return (
        f"【{LEVEL_LABELS.get(level, level)}】申请 {application_id}（窗口 {window_id}）「{subject}」"
        f"应于 {due} 前办结，{_PHRASES.get(level, '请关注')}，请{AUDIENCE_LABELS.get(audience, audience)}督促办理。"
    )

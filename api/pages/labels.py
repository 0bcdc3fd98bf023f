"""Chinese words of the pages for the codes the API speaks (statuses, SLA states, escalation levels)."""

from __future__ import annotations

from domain.labels import ENTITY_LABELS, INVOICE_LABELS, LEGAL_REP_ROLE_LABELS, SEAL_LABELS  # noqa: F401

TASK_STATUS = {
    "waiting": "等待前置部门",
    "dispatched": "已报送",
    "in_review": "审核中",
    "completed": "已办结",
    "rejected": "需补正",
    "manual": "转人工处理",
    "skipped": "无需办理",
    "cancelled": "已撤回",
}
#: the steps of a task's timeline, in order (rejected and manual are where it left the way)
TIMELINE = ("waiting", "dispatched", "in_review", "completed")
APPLICATION_STATUS = {
    "processing": "办理中",
    "needs_correction": "需补正",
    "completed": "已办结",
    "withdrawn": "已撤回",
}
SLA = {"on_track": "正常", "at_risk": "临近时限", "breached": "已超时"}
LEVEL = {"remind": "提醒", "warn": "预警", "breach": "超时", "re_escalate": "督办", "digest": "每日督办汇总"}
AUDIENCE = {
    "department_handler": "部门经办人",
    "department_supervisor": "部门负责人",
    "window_supervisor": "窗口负责人",
    "leading_group_office": "领导小组办公室",
}
CHANNEL = {"api": "接口", "robot": "机器人"}
#: the evidence a robot kept (``DepartmentState.evidence`` keys, bots/README.md "Evidence")
EVIDENCE = {
    "receipt_screenshot": "回执截图",
    "receipt_html": "回执页面",
    "screenshot": "失败截图",
    "html": "失败页面",
    "steps": "操作步骤记录",
    "trace": "操作轨迹",
}
ROLE = {"clerk": "窗口工作人员", "supervisor": "督办人员", "department": "部门", "admin": "管理员"}
EVENT = {
    "submitted": "提交",
    "corrected": "补正",
    "completed_manually": "人工办结",
    "sent_back": "重新报送",
    "withdrawn": "撤回",
    "withdrawal_requested": "申请撤回",
    "withdrawal_refused": "撤回被拒",
    **TASK_STATUS,
}
#: the result fields of each department, as the completion notice and the manual completion form name them
RESULT_FIELDS = {
    "uscc": "统一社会信用代码",
    "licence_serial": "营业执照编号",
    "approved_at": "核准时间",
    "seal_codes": "印章备案编码",
    "taxpayer_id": "纳税人识别号",
    "tax_authority": "主管税务机关",
    "invoice_types": "核定发票种类",
    "si_unit_code": "社会保险单位编号",
    "mi_unit_code": "医疗保险单位编号",
    "hpf_unit_account": "住房公积金单位账号",
    "account_no": "基本存款账号",
    "bank_code": "开户银行",
    "opened_at": "开户时间",
}


def result_value(key: str, value: object) -> str:
    """A result as a person reads it: seal codes by seal name, invoice types by name."""
    if isinstance(value, dict):
        names = SEAL_LABELS if key == "seal_codes" else {}
        return "；".join(f"{names.get(k, k)} {v}" for k, v in value.items())
    if isinstance(value, list):
        return "、".join(INVOICE_LABELS.get(str(v), str(v)) for v in value)
    return "" if value is None else str(value)

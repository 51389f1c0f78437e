"""The seed's wire shapes (seed 004): CallActionResponse and its entities, in XML (by
default; xsd/agent.xsd) or JSON (when the request's Content-Type or Accept says
application/json). Field names and order are the seed's, odd ones included."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Iterable, Optional

from lxml import etree

from services.core.agents import AgentView, CallView, CampaignView

NS = "urn:callsuite:agent:1"
XML_TYPE = "application/xml; charset=utf-8"
JSON_TYPE = "application/json; charset=utf-8"
AGENT_STATE = {"logged_out": 0, "logged_in": 1, "ready": 2, "on_call": 3, "wrapping": 4}


class Obj(dict):
    """A seed field typed `object`: no content of ours, `{}` in JSON and an empty element in XML."""


def _stamp(value: Optional[datetime]) -> str:
    if value is None:
        return ""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def call_entity(call: CallView) -> tuple[str, dict]:
    return "Call", {
        "CallId": call.call_id,
        "CallStartTime": call.started_at,
        "CallState": call.call_state,
        "CallStatus": call.call_status,
        "CustomerName": call.customer_name,
        "CustomerName2": call.customer_name2,
        "PhoneNumber": call.phone_number,
        "RecordingState": call.recording_state,
    }


def agent_entity(agent: AgentView) -> tuple[str, dict]:
    """Beyond the seed (login, logout, goready): the agent's session."""
    return "Agent", {
        "UserID": agent.user_id,
        "FullName": agent.full_name,
        "AgentState": AGENT_STATE[agent.state],
        "AgentStateName": agent.state,
        "CampaignID": agent.campaign_id or 0,
        "CampaignName": agent.campaign_name or "",
        "Since": agent.since,
    }


def user_entity(user) -> tuple[str, dict]:
    return "AgentNameIDPair", {"FullName": user.full_name, "ID": user.id}


def lead_phone_entity(phone) -> tuple[str, dict]:
    return "LeadPhone", {"LeadId": phone.lead_id, "PhoneNumber": phone.phone_number,
                         "RecordType": phone.record_type, "RecordTypeId": phone.record_type_id}


def result_code_entity(code) -> tuple[str, dict]:
    return "ResultCode", {
        "Code": code.code,
        "Description": code.description,
        "IsAgentViewable": bool(code.is_agent_viewable),
        "IsCallAgain": bool(code.is_call_again),
        "IsCallback": bool(code.is_callback),
        "IsSuccess": bool(code.is_success),
        "IsSystemResultCode": bool(code.is_system),
        "IsTransfer": False,
        "ResultCodeID": code.id,
        "Sales": 1 if code.is_success else 0,
        "StatusID": 1 if code.is_success else 0,
        "SuccessType": 1 if code.is_success else 0,
    }


def acd_queue_entity(queue) -> tuple[str, dict]:
    return "ACDQueue", {
        "AbandonThreshold": 0,
        "AcceptableQueueTime": queue.ewt_minutes * 60,
        "AcdIcon": "",
        "AcdName": queue.name,
        "Active": bool(queue.active),
        "DefaultTimeout": 0,
        "DefaultTimeoutIvr": 0,
        "ID": queue.id,
        "SessionStats": Obj(),
        "SkipIndex": 0,
        "SnapshotStats": Obj(),
        "TenMinuteOffers": Obj(),
        "TenMinuteOffersVirtualQueue": Obj(),
        "UserAddress": "",
        "UserName": "",
        "ZipTone": 0,
        "ZipToneBeep": 0,
        "ZipToneWav": Obj(),
    }


def campaign_entity(view: CampaignView) -> tuple[str, dict]:
    """Every field the seed lists; what a manual-dial campaign of ours does not have is the
    type's empty value (README, "Campaign fields")."""
    c = view.campaign
    return "Campaign", {
        "Active": bool(c.active),
        "AlwaysRun": False,
        "AutoRecord": bool(c.auto_record),
        "BlackoutDates": "",
        "BlackoutDateses": [],
        "CalculatedLines": len(view.ready_users),
        "CallerID": c.caller_id or "",
        "CallsPlacedThisMinute": view.calls_this_minute,
        "CampaignID": c.id,
        "CampaignIcon": "",
        "CampaignName": c.name,
        "Cps": 0,
        "DefaultListID": 0,
        "DefaultPhoneType": 1,
        "Description": c.description or "",
        "DropQueue": [],
        "EndLine": 0,
        "EstimatedRecordCount": view.lead_count,
        "FirstCreated": "",
        "InitialPacing": 0,
        "IvrSessions": [],
        "LastFetch": "",
        "LastModified": "",
        "LastPacingAdjust": "",
        "Leads": Obj(),
        "LeadsInProgress": list(view.leads_in_progress),
        "LinesToReturn": 0,
        "Lists": [],
        "ListsForStats": [],
        "LiveStats": Obj(),
        "LiveStatsTemp": Obj(),
        "MOTD": "",
        "MaxCallCap": 0,
        "NumToCall": len(view.uncalled_leads),
        "Pacing": 0,
        "PlacedPredictiveCallsLock": Obj(),
        "PlacingInterval": 0,
        "PreviewQueue": [],
        "ReadyUsers": list(view.ready_users),
        "ResultSessions": [],
        "Schedule": "",
        "SchedulePlanID": 0,
        "Schedules": [],
        "SchedulesUI": [],
        "SessionID": 0,
        "SessionStats": Obj(),
        "SoftCap": 0,
        "StartLine": 0,
        "Status": 1 if c.active else 0,
        "TargetDropPercent": 0,
        "TeleParamPlanID": 0,
        "TenantID": c.company_id or 0,
        "Type": 0,
        "UncalledLeads": list(view.uncalled_leads),
        "UseAutoPacing": False,
        "UseGlobalBlackoutDates": False,
        "UserAddress": "",
        "UserName": "",
        "ZipTone": 0,
        "ZipToneBeep": 0,
        "ZipToneWav": Obj(),
    }


def token_entity(token: str, user_id: int, expires: datetime) -> tuple[str, dict]:
    return "Token", {"TokenKey": token, "UserID": user_id, "Expires": expires}


# --- the envelope ---------------------------------------------------------------------

class Answer:
    """A CallActionResponse: `data` is one entity, a list of them (an array), or None."""

    def __init__(self, success: bool, code: int, detail: str, data=None) -> None:
        self.success, self.code, self.detail, self.data = success, code, detail, data

    def json(self) -> bytes:
        def plain(value: Any) -> Any:
            if isinstance(value, datetime):
                return _stamp(value)
            if isinstance(value, tuple):  # an entity
                return {k: plain(v) for k, v in value[1].items()}
            if isinstance(value, list):
                return [plain(v) for v in value]
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            return value
        return json.dumps({"Success": self.success, "Data": plain(self.data), "ResponseCode": self.code,
                           "ResponseDetail": self.detail}).encode()

    def xml(self) -> bytes:
        root = etree.Element(f"{{{NS}}}CallActionResponse", nsmap={None: NS})
        _leaf(root, "Success", self.success)
        data = etree.SubElement(root, f"{{{NS}}}Data")
        for name, fields in (self.data if isinstance(self.data, list) else [self.data] if self.data else []):
            _entity(data, name, fields)
        _leaf(root, "ResponseCode", self.code)
        _leaf(root, "ResponseDetail", self.detail)
        return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def _entity(parent, name: str, fields: dict) -> None:
    element = etree.SubElement(parent, f"{{{NS}}}{name}")
    for key, value in fields.items():
        _leaf(element, key, value)


def _leaf(parent, name: str, value: Any) -> None:
    element = etree.SubElement(parent, f"{{{NS}}}{name}")
    if isinstance(value, Obj):
        return
    if isinstance(value, list):
        for item in value:
            _leaf(element, "Item", item)
        return
    element.text = _text(value)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return _stamp(value)
    return "" if value is None else str(value)


def wants_json(headers: Iterable[str]) -> bool:
    return any("application/json" in (h or "").lower() for h in headers)

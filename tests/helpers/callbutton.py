"""The Callbutton request document as the seed writes it (its odd `</GetCallDetailsRequest >`
included). A code is wrapped in <ClientCode>; a string starting with '<' goes in as is."""
from __future__ import annotations

from helpers.server import REPO


def request_doc(*codes: str, start: str = "01/05/2026 08:00:00", end: str = "01/06/2026 17:30:00") -> bytes:
    lines = "\n".join(f"      {c}" if c.startswith("<") else f"      <ClientCode>{c}</ClientCode>" for c in codes)
    return f"""<?xml version="1.0"?>
<Callbutton version="B">
  <CallbuttonService>
    <GetCallDetailsRequest>
{lines}
      <StartDate>{start}</StartDate>
      <EndDate>{end}</EndDate>
    </GetCallDetailsRequest >
  </CallbuttonService>
</Callbutton>
""".encode()


# The seed's own request document, as written there.
SEED_REQUEST = b"""<?xml version="1.0"?>
<Callbutton version="B">
  <CallbuttonService>
    <GetCallDetailsRequest>
      <ClientCode>8005551234</ClientCode>
      <ClientCode status="true">8665550000</ClientCode>
      <ClientCode status="false">8775559876</ClientCode>
      <StartDate>01/05/2026 08:00:00</StartDate>
      <EndDate>01/06/2026 17:30:00</EndDate>
    </GetCallDetailsRequest >
  </CallbuttonService>
</Callbutton>
"""


# The seed's response documents, success and failure, as written there.
SEED_SUCCESS = b"""<?xml version="1.0"?>
<Callbutton version="B">
  <Username>partner1</Username>
  <Authentication>203.0.113.7</Authentication>
  <CallbuttonService>
    <GetCallDetailsResponse status="OK">
      <Client>
        <ClientCode>8005551234</ClientCode>
        <CallDetails>
          <Call ID="1001">
            <StartTime>01/05/2026 14:03:59</StartTime>
            <Campaign>12</Campaign>
            <DID>8005551234</DID>
            <ANI>3125550100</ANI>
            <OtherData>otherdata</OtherData>
            <InfoDigits>p</InfoDigits>
            <Target>6305550111</Target>
            <Result>No Answer</Result>
            <Duration>30</Duration>
            <TalkTime>0</TalkTime>
            <IndexNumber>7</IndexNumber>
            <VoiceDirectory>http://203.0.113.1/cb/main/jsp/mates/cBEventCallRecordingURL.jsp?id=1001</VoiceDirectory>
            <Address>
              <FirstName>Ann</FirstName>
              <MiddleInitial>B</MiddleInitial>
              <LastName>Cole</LastName>
              <StreetAddress>1 Main St</StreetAddress>
              <SecondaryAddress></SecondaryAddress>
              <City>Vancouver</City>
              <State>BC</State>
              <ZIP>V1M2H8</ZIP>
              <ZIP4></ZIP4>
            </Address>
            <ReviewedStatus>Unreviewed</ReviewedStatus>
            <DTMF>12</DTMF>
            <SalesStatus>Called back</SalesStatus>
            <Journal>notes
more notes</Journal>
          </Call>
        </CallDetails>
      </Client>
      <Client>
        <ClientCode>8665550000</ClientCode>
        <CallDetails>
        </CallDetails>
      </Client>
    </GetCallDetailsResponse>
  </CallbuttonService>
</Callbutton>
"""

SEED_FAILURE = b"""<?xml version="1.0"?>
<Callbutton version="B">
  <Username>partner1</Username>
  <Authentication>203.0.113.7</Authentication>
  <CallbuttonService>
    <GetCallDetailResponse status="UNAUTHORIZED">
      Authentication failed
    </GetCallDetailResponse>
  </CallbuttonService>
</Callbutton>
"""


def cc(code: str, status: str | None = None) -> str:
    attr = f' status="{status}"' if status is not None else ""
    return f"<ClientCode{attr}>{code}</ClientCode>"


def assert_clear(exc: Exception, *needles: str) -> None:
    message = str(exc)
    assert message == exc.message and message.strip()
    assert "Traceback" not in message and 'File "' not in message
    assert str(REPO) not in message and "callbutton.xsd" not in message
    for needle in needles:
        assert needle in message, message

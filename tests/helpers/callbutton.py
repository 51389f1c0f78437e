"""The Callbutton request document as the seed writes it (its odd `</GetCallDetailsRequest >`
included). A code is wrapped in <ClientCode>; a string starting with '<' goes in as is."""


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

"""CAP 1.2: the specification's appendix examples, Update/Cancel, and hostile or invalid XML."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from ingest.formats import parse
from ingest.formats.cap import XSD_PATH, cap_schema
from ingest.records import CapAlert, PayloadError

NOW = datetime(2025, 6, 1, 3, 0, tzinfo=UTC)
DOCS_XSD = Path(__file__).resolve().parents[2] / "docs" / "schemas" / "cap-1.2.xsd"

# CAP 1.2 specification, Appendix A (examples A.1-A.4), as published by OASIS.
HOMELAND_SECURITY = """<?xml version = "1.0" encoding = "UTF-8"?>
<alert xmlns = "urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>43b080713727</identifier>
  <sender>hsas@dhs.gov</sender>
  <sent>2003-04-02T14:39:01-05:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <category>Security</category>
    <event>Homeland Security Advisory System Update</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Likely</certainty>
    <senderName>U.S. Government, Department of Homeland Security</senderName>
    <headline>Homeland Security Sets Code ORANGE</headline>
    <description>The Department of Homeland Security has elevated the Homeland Security Advisory System threat level to ORANGE / High in response to intelligence which may indicate a heightened threat of terrorism.</description>
    <instruction> A High Condition is declared when there is a high risk of terrorist attacks. In addition to the Protective Measures taken in the previous Threat Conditions, Federal departments and agencies should consider agency-specific Protective Measures in accordance with their existing plans.</instruction>
    <web>http://www.dhs.gov/dhspublic/display?theme=29</web>
    <parameter>
      <valueName>HSAS</valueName>
      <value>ORANGE</value>
    </parameter>
    <resource>
      <resourceDesc>Image file (GIF)</resourceDesc>
      <mimeType>image/gif</mimeType>
      <uri>http://www.dhs.gov/dhspublic/getAdvisoryImage</uri>
    </resource>
    <area>
      <areaDesc>U.S. nationwide and interests worldwide</areaDesc>
    </area>
  </info>
</alert>
"""

THUNDERSTORM = """<?xml version = "1.0" encoding = "UTF-8"?>
<alert xmlns = "urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>KSTO1055887203</identifier>
  <sender>KSTO@NWS.NOAA.GOV</sender>
  <sent>2003-06-17T14:57:00-07:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <category>Met</category>
    <event>SEVERE THUNDERSTORM</event>
    <responseType>Shelter</responseType>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Observed</certainty>
    <eventCode>
      <valueName>SAME</valueName>
      <value>SVR</value>
    </eventCode>
    <expires>2003-06-17T16:00:00-07:00</expires>
    <senderName>NATIONAL WEATHER SERVICE SACRAMENTO CA</senderName>
    <headline>SEVERE THUNDERSTORM WARNING</headline>
    <description> AT 254 PM PDT...NATIONAL WEATHER SERVICE DOPPLER RADAR INDICATED A SEVERE THUNDERSTORM OVER SOUTH CENTRAL ALPINE COUNTY...OR ABOUT 18 MILES SOUTHEAST OF KIRKWOOD...MOVING SOUTHWEST AT 5 MPH. HAIL...INTENSE RAIN AND STRONG DAMAGING WINDS ARE LIKELY WITH THIS STORM.</description>
    <instruction>TAKE COVER IN A SUBSTANTIAL SHELTER UNTIL THE STORM PASSES.</instruction>
    <contact>BARUFFALDI/JUSKIE</contact>
    <area>
      <areaDesc>EXTREME NORTH CENTRAL TUOLUMNE COUNTY IN CALIFORNIA, EXTREME NORTHEASTERN CALAVERAS COUNTY IN CALIFORNIA, SOUTHWESTERN ALPINE COUNTY IN CALIFORNIA</areaDesc>
      <polygon>38.47,-120.14 38.34,-119.95 38.52,-119.74 38.62,-119.89 38.47,-120.14</polygon>
      <geocode>
        <valueName>SAME</valueName>
        <value>006109</value>
      </geocode>
      <geocode>
        <valueName>SAME</valueName>
        <value>006009</value>
      </geocode>
      <geocode>
        <valueName>SAME</valueName>
        <value>006003</value>
      </geocode>
    </area>
  </info>
</alert>
"""

EARTHQUAKE = """<?xml version = "1.0" encoding = "UTF-8"?>
<alert xmlns = "urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>TRI13970876.2</identifier>
  <sender>trinet@caltech.edu</sender>
  <sent>2003-06-11T20:56:00-07:00</sent>
  <status>Actual</status>
  <msgType>Update</msgType>
  <scope>Public</scope>
  <references>trinet@caltech.edu,TRI13970876.1,2003-06-11T20:30:00-07:00</references>
  <info>
    <category>Geo</category>
    <event>Earthquake</event>
    <urgency>Past</urgency>
    <severity>Minor</severity>
    <certainty>Observed</certainty>
    <senderName>Southern California Seismic Network (TriNet) operated by Caltech and USGS</senderName>
    <headline>EQ 3.4 Imperial County CA</headline>
    <description>A minor earthquake measuring 3.4 on the Richter scale occurred near Brawley, California at 8:30 PM Pacific Daylight Time on Wednesday, June 11, 2003. (This event has now been reviewed by a seismologist)</description>
    <web>http://www.trinet.org/scsn/scsn.html</web>
    <parameter>
      <valueName>EventID</valueName>
      <value>13970876</value>
    </parameter>
    <parameter>
      <valueName>Version</valueName>
      <value>1</value>
    </parameter>
    <parameter>
      <valueName>Magnitude</valueName>
      <value>3.4 Ml</value>
    </parameter>
    <parameter>
      <valueName>Depth</valueName>
      <value>11.8 mi.</value>
    </parameter>
    <parameter>
      <valueName>Quality</valueName>
      <value>Excellent</value>
    </parameter>
    <area>
      <areaDesc>1 mi. WSW of Brawley, CA; 11 mi. N of El Centro, CA; 30 mi. E of OCOTILLO (quarry); 1 mi. N of the Imperial Fault</areaDesc>
      <circle>32.9525,-115.5527 0</circle>
    </area>
  </info>
</alert>
"""

AMBER = """<?xml version = "1.0" encoding = "UTF-8"?>
<alert xmlns = "urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>KAR0-0306112239-SW</identifier>
  <sender>KARO@CLETS.DOJ.CA.GOV</sender>
  <sent>2003-06-11T22:39:00-07:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <source>SW</source>
  <scope>Public</scope>
  <info>
    <language>en-US</language>
    <category>Rescue</category>
    <event>Child Abduction</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Likely</certainty>
    <eventCode>
      <valueName>SAME</valueName>
      <value>CAE</value>
    </eventCode>
    <senderName>Los Angeles Police Dept - LAPD</senderName>
    <headline>Amber Alert in Los Angeles County</headline>
    <description>DATE/TIME: 06/11/03, 1915 HRS.  VICTIM(S): KHAYRI DOE JR. M/B BLK/BRO 3'0", 40 LBS. LIGHT COMPLEXION.  DOB 06/24/01. WEARING RED SHORTS, WHITE T-SHIRT, W/BLUE COLLAR.  LOCATION: 5721 DOE ST., LOS ANGELES, CA.  SUSPECT(S): KHAYRI DOE SR. DOB 04/18/71 M/B, BLK HAIR, BRO EYE. VEHICLE: 81' BUICK 2-DR, BLUE (4XXX000).</description>
    <contact>DET. SMITH, 77TH DIV, LOS ANGELES POLICE DEPT-LAPD AT 213 485-2389</contact>
    <area>
      <areaDesc>Los Angeles County</areaDesc>
      <geocode>
        <valueName>SAME</valueName>
        <value>006037</value>
      </geocode>
    </area>
  </info>
  <info>
    <language>es-US</language>
    <category>Rescue</category>
    <event>Abducción de Niño</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Likely</certainty>
    <eventCode>
      <valueName>SAME</valueName>
      <value>CAE</value>
    </eventCode>
    <senderName>Departamento de Policía de Los Ángeles - LAPD</senderName>
    <headline>Alerta Amber en el condado de Los Ángeles</headline>
    <description>DATE/TIME: 06/11/03, 1915 HORAS. VÍCTIMAS: KHAYRI DOE JR. M/B BLK/BRO 3'0", 40 LIBRAS. TEZ LIGERA. DOB 06/24/01. CORTOCIRCUITOS ROJOS QUE USAN, CAMISETA BLANCA, COLLAR DE W/BLUE. LOCALIZACIÓN: 5721 DOE ST., LOS ÁNGELES. SOSPECHOSO: KHAYRI DOE ST. DOB 04/18/71 M/B, PELO DEL NEGRO, OJO DE BRO. VEHÍCULO: 81' BUICK 2-DR, AZUL (4XXX000)</description>
    <contact>DET. SMITH, 77TH DIV, LOS ANGELES POLICE DEPT-LAPD AT 213 485-2389</contact>
    <area>
      <areaDesc>condado de Los Ángeles</areaDesc>
      <geocode>
        <valueName>SAME</valueName>
        <value>006037</value>
      </geocode>
    </area>
  </info>
</alert>
"""


def cap(xml: str | bytes, now: datetime = NOW) -> CapAlert:
    payload = xml.encode() if isinstance(xml, str) else xml
    parsed = parse("ioc/v1/cap", payload, now=now)
    assert parsed.format == "cap" and parsed.device_id is None
    (alert,) = parsed.records
    return alert


def rejected(xml: str | bytes) -> str:
    payload = xml.encode() if isinstance(xml, str) else xml
    with pytest.raises(PayloadError) as err:
        parse("ioc/v1/cap", payload, now=NOW)
    assert err.value.format == "cap" and err.value.device_id is None
    return err.value.reason


def test_xsd_in_the_package_is_the_published_one():
    assert XSD_PATH.read_bytes() == DOCS_XSD.read_bytes()
    assert cap_schema().target_namespace == "urn:oasis:names:tc:emergency:cap:1.2"


def test_a1_homeland_security_advisory():
    alert = cap(HOMELAND_SECURITY)
    assert (alert.identifier, alert.sender, alert.status, alert.msg_type, alert.scope) == (
        "43b080713727", "hsas@dhs.gov", "Actual", "Alert", "Public")
    assert alert.sent == datetime(2003, 4, 2, 19, 39, 1, tzinfo=UTC)
    assert alert.references == () and alert.xml == HOMELAND_SECURITY
    (info,) = alert.info
    assert info["category"] == ("Security",) and info["severity"] == "Severe"
    assert info["language"] == "en-US"
    assert info["parameter"] == ({"valueName": "HSAS", "value": "ORANGE"},)
    assert info["resource"][0]["mimeType"] == "image/gif"
    assert info["area"][0]["areaDesc"] == "U.S. nationwide and interests worldwide"


def test_a2_severe_thunderstorm_warning():
    (info,) = cap(THUNDERSTORM).info
    assert info["responseType"] == ("Shelter",) and info["expires"] == "2003-06-17T16:00:00-07:00"
    assert info["eventCode"] == ({"valueName": "SAME", "value": "SVR"},)
    (area,) = info["area"]
    assert area["polygons_lonlat"][0][0] == (-120.14, 38.47) == area["polygons_lonlat"][0][-1]
    assert [g["value"] for g in area["geocode"]] == ["006109", "006009", "006003"]


def test_a3_earthquake_update_references_the_earlier_message():
    alert = cap(EARTHQUAKE)
    assert alert.msg_type == "Update"
    assert alert.references == (
        ("trinet@caltech.edu", "TRI13970876.1", "2003-06-11T20:30:00-07:00"),)
    (area,) = alert.info[0]["area"]
    assert area["circles"] == ({"lat": 32.9525, "lon": -115.5527, "radius_km": 0.0},)


def test_a4_amber_alert_multilingual():
    alert = cap(AMBER)
    assert [i["language"] for i in alert.info] == ["en-US", "es-US"]
    assert alert.info[1]["event"] == "Abducción de Niño"


def vn_alert(msg_type: str = "Alert", references: str | None = None, *, identifier="LC-2025-061",
             sent="2025-06-01T09:30:00+07:00", extra_alert: str = "", area: str | None = None,
             scope: str = "Public") -> str:
    refs = f"<references>{references}</references>" if references else ""
    area = area or ("<area><areaDesc>Huyện Bát Xát</areaDesc>"
                    "<polygon>22.60,103.70 22.70,103.70 22.70,103.85 22.60,103.70</polygon>"
                    "<geocode><valueName>district</valueName><value>bat_xat</value></geocode>"
                    "</area>")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{identifier}</identifier><sender>pctt@laocai.gov.vn</sender>
  <sent>{sent}</sent><status>Actual</status><msgType>{msg_type}</msgType>
  <scope>{scope}</scope>{extra_alert}{refs}
  <info><language>vi-VN</language><category>Geo</category><category>Met</category>
    <event>Lũ quét, sạt lở đất</event><responseType>Evacuate</responseType>
    <urgency>Expected</urgency><severity>Severe</severity><certainty>Likely</certainty>
    <effective>2025-06-01T09:30:00+07:00</effective><onset>2025-06-01T12:00:00+07:00</onset>
    <expires>2025-06-02T09:30:00+07:00</expires>
    <headline>Cảnh báo lũ quét cấp độ 3</headline>
    <parameter><valueName>risk_level</valueName><value>3</value></parameter>
    {area}
  </info>
</alert>"""


def test_update_and_cancel_with_references():
    first = cap(vn_alert())
    ref = f"{first.sender},{first.identifier},2025-06-01T09:30:00+07:00"
    update = cap(vn_alert("Update", ref, identifier="LC-2025-062"))
    cancel = cap(vn_alert("Cancel", f"{ref} pctt@laocai.gov.vn,LC-2025-062,"
                                    "2025-06-01T10:00:00+07:00", identifier="LC-2025-063"))
    assert update.references == (("pctt@laocai.gov.vn", "LC-2025-061",
                                  "2025-06-01T09:30:00+07:00"),)
    assert [r[1] for r in cancel.references] == ["LC-2025-061", "LC-2025-062"]
    assert first.info[0]["category"] == ("Geo", "Met")
    assert first.sent == datetime(2025, 6, 1, 2, 30, tzinfo=UTC)


def test_utc_written_as_minus_zero_and_signature_wildcard():
    sig = ('<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo>'
           '<CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
           '<SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
           '<Reference URI=""><DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'
           "<DigestValue>AAAA</DigestValue></Reference></SignedInfo>"
           "<SignatureValue>AAAA</SignatureValue></Signature></alert>")
    alert = cap(vn_alert(sent="2025-06-01T02:30:00-00:00").replace("</alert>", sig))
    assert alert.sent == datetime(2025, 6, 1, 2, 30, tzinfo=UTC)


def test_altitude_and_ceiling():
    area = ("<area><areaDesc>A</areaDesc><circle>22.48,103.97 5.5</circle>"
            "<altitude>300</altitude><ceiling>2500.5</ceiling></area>")
    (a,) = cap(vn_alert(area=area)).info[0]["area"]
    assert (a["altitude"], a["ceiling"], a["circles"][0]["radius_km"]) == (300.0, 2500.5, 5.5)


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol3;</identifier></alert>"""
XXE = """<?xml version="1.0"?>
<!DOCTYPE alert [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&xxe;</identifier></alert>"""
DTD_ONLY = """<?xml version="1.0"?><!DOCTYPE alert SYSTEM "http://evil.example/cap.dtd">
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"/>"""


@pytest.mark.parametrize("xml", [BILLION_LAUGHS, XXE, DTD_ONLY])
def test_dtds_and_entities_are_refused(xml):
    assert rejected(xml).startswith("XML rejected: ")


@pytest.mark.parametrize(("xml", "expected"), [
    (THUNDERSTORM.replace("<identifier>KSTO1055887203</identifier>", ""),
     "alert: missing <identifier>"),
    (THUNDERSTORM.replace("<scope>Public</scope>", ""), "alert: missing <scope>"),
    (THUNDERSTORM.replace("<certainty>Observed</certainty>", ""),
     "alert.info[0]: missing <certainty>"),
    (THUNDERSTORM.replace("14:57:00-07:00", "21:57:00Z"),
     "alert.sent: '2003-06-17T21:57:00Z' uses 'Z'; CAP 1.2 requires a numeric offset "
     "(write UTC as -00:00)"),
    (THUNDERSTORM.replace("16:00:00-07:00", "23:00:00Z"), "alert.info[0].expires: "),
    (THUNDERSTORM.replace("14:57:00-07:00", "14:57:00.5-07:00"), "no fractional seconds"),
    (THUNDERSTORM.replace("2003-06-17T14:57:00-07:00", "2003-06-17"),
     "alert.sent: '2003-06-17' is not YYYY-MM-DDThh:mm:ss±hh:mm"),
    (THUNDERSTORM.replace("<status>Actual", "<status>Real"),
     "CAP schema: /alert/status: value must be one of"),
    (THUNDERSTORM.replace("<category>Met", "<category>Weather"), "CAP schema: /alert/info/category"),
    (THUNDERSTORM.replace("<urgency>Immediate</urgency>", "").replace(
        "<certainty>", "<urgency>Immediate</urgency><certainty>"), "CAP schema: /alert/info:"),
    (HOMELAND_SECURITY.replace("</mimeType>", "</mimeType><size>big</size>"),
     "CAP schema: /alert/info/resource/size"),
    (THUNDERSTORM.replace("<msgType>Alert</msgType>", "<msgType>Alert</msgType><x>1</x>"),
     "CAP schema: /alert"),
    (THUNDERSTORM.replace("</info>", '</info><x xmlns="urn:example:ext">1</x>'),
     "CAP schema: /alert"),
    (THUNDERSTORM.replace('"urn:oasis:names:tc:emergency:cap:1.2"',
                          '"urn:oasis:names:tc:emergency:cap:1.1"'),
     "root element is '{urn:oasis:names:tc:emergency:cap:1.1}alert', expected <alert> in "
     "namespace urn:oasis:names:tc:emergency:cap:1.2"),
    (THUNDERSTORM.replace("38.47,-120.14</polygon>", "38.40,-120.14</polygon>"),
     "alert.info[0].area[0].polygon: polygon is not closed"),
    (vn_alert(area="<area><areaDesc>x</areaDesc><polygon>1,1 2,2 1,1</polygon></area>"),
     "a polygon needs at least 4 points, got 3"),
    (vn_alert(area="<area><areaDesc>x</areaDesc><polygon>1,1 2;2 3,3 1,1</polygon></area>"),
     "'2;2' is not a 'lat,lon' point"),
    (vn_alert(area="<area><areaDesc>x</areaDesc><polygon>91,1 2,2 3,3 91,1</polygon></area>"),
     "is outside lat -90..90, lon -180..180"),
    (vn_alert(area="<area><areaDesc>x</areaDesc><circle>22.4,103.9</circle></area>"),
     "alert.info[0].area[0].circle: '22.4,103.9' is not 'lat,lon radius_km'"),
    (vn_alert(area="<area><areaDesc>x</areaDesc><circle>22.4,103.9 -2</circle></area>"),
     "radius cannot be negative"),
    (vn_alert(area="<area><areaDesc>x</areaDesc><ceiling>5</ceiling></area>"),
     "ceiling: only allowed together with <altitude>"),
    (EARTHQUAKE.replace("<references>trinet@caltech.edu,TRI13970876.1,2003-06-11T20:30:00-07:00"
                        "</references>", ""),
     "alert.references: required when msgType is Update"),
    (vn_alert("Cancel"), "alert.references: required when msgType is Cancel"),
    (vn_alert("Update", "pctt@laocai.gov.vn,LC-2025-061"),
     "alert.references: 'pctt@laocai.gov.vn,LC-2025-061' is not sender,identifier,sent"),
    (vn_alert("Update", "a,b,2025-06-01T09:30:00Z"), "alert.references: '2025-06-01T09:30:00Z'"),
    # an empty <references/> is no references (valid for an Alert), not enough for an Update
    (vn_alert("Update", " "), "alert.references: required when msgType is Update"),
    (vn_alert(identifier="LC 2025"), "alert.identifier: 'LC 2025' must be non-empty without"),
    (vn_alert(identifier="LC,2025"), "alert.identifier: 'LC,2025' must be non-empty"),
    (vn_alert(identifier="LC&amp;2025"), "alert.identifier: 'LC&2025'"),
    (vn_alert(scope="Restricted"), "alert.restriction: required when scope is Restricted"),
    (vn_alert(scope="Private"), "alert.addresses: required when scope is Private"),
    (vn_alert(sent="2025-06-01T11:00:00+07:00"), "alert.sent: 2025-06-01T04:00:00+00:00 is "
                                                 "3600 s in the future"),
    (vn_alert(sent="1999-06-01T11:00:00+07:00"), "before 2000-01-01"),
    ("<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'>", "invalid XML: "),
    ("not xml at all", "invalid XML: "),
    ("", "invalid XML: "),
    # decoded as declared (tests/unit/test_formats_cap_feeds.py); bytes that do not match the
    # declared (or default) encoding are refused
    (b"<?xml version='1.0' encoding='UTF-8'?><alert>\xe9</alert>",
     "payload is not valid UTF-8 (byte 0xe9"),
    (b"<alert>\xe9</alert>", "payload is not valid UTF-8 (byte 0xe9"),
])
def test_invalid_alerts(xml, expected):
    assert expected in rejected(xml)


def test_restricted_and_private_with_their_elements_are_fine():
    cap(vn_alert(scope="Restricted", extra_alert="<restriction>cơ quan PCTT</restriction>"))
    cap(vn_alert(scope="Private", extra_alert="<addresses>ubnd-batxat</addresses>"))


def test_offsets_are_converted_to_utc():
    alert = cap(vn_alert(sent="2025-06-01T02:30:00+05:45"))
    assert alert.sent == datetime(2025, 6, 1, 2, 30, tzinfo=timezone(timedelta(hours=5,
                                                                               minutes=45)))
    assert alert.sent.tzinfo is UTC
